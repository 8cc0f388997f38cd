package dev.isthmus.tests.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.quant.Dequantize;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GGUF block layouts the CUDA kernels read, checked without a GPU: the kernels' own
 * {@code dequant32} ({@code kernels-gpu/src/main/cuda/common.cuh}, host-and-device code) is compiled by
 * nvcc into a host program ({@code kernels-gpu/src/test/cuda/dequant_host.cu}) and must give
 * bit-for-bit the values of the Java reference {@link Dequantize} on random blocks of every type the
 * backend supports (MXFP4 with subnormal scales included). Skipped when nvcc or the sources are absent.
 */
class CudaDequantHostTest {
    @TempDir
    Path dir;

    static Path nvcc() {
        List<Path> candidates = new ArrayList<>();
        for (String p : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (!p.isBlank()) {
                candidates.add(Path.of(p, "nvcc"));
            }
        }
        String home = System.getenv("CUDA_HOME");
        if (home != null && !home.isBlank()) {
            candidates.add(Path.of(home, "bin", "nvcc"));
        }
        candidates.add(Path.of("/usr/local/cuda/bin/nvcc"));
        return candidates.stream().filter(Files::isExecutable).findFirst().orElse(null);
    }

    static Path sources() {
        for (Path base : List.of(Path.of("..", "kernels-gpu"), Path.of("kernels-gpu"))) {
            if (Files.isRegularFile(base.resolve("src/test/cuda/dequant_host.cu"))) {
                return base.toAbsolutePath().normalize();
            }
        }
        return null;
    }

    static int run(List<String> cmd, Path dir) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("log.txt").toFile()).start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + cmd);
        }
        return p.exitValue();
    }

    @Test
    void theKernelsDequantizeEveryTypeBitForBitAsTheReference() throws Exception {
        Path nvcc = nvcc();
        assumeTrue(nvcc != null, "nvcc not found: CUDA dequantisation host check skipped");
        Path src = sources();
        assumeTrue(src != null, "kernels-gpu sources not found from " + Path.of("").toAbsolutePath());
        Path exe = dir.resolve("dequant_host");
        int rc = run(List.of(nvcc.toString(), "-std=c++17", "-O1", "-I" + src.resolve("src/main/cuda"),
                "-o", exe.toString(), src.resolve("src/test/cuda/dequant_host.cu").toString()), dir);
        assertEquals(0, rc, () -> "nvcc failed: " + read(dir.resolve("log.txt")));

        SplittableRandom r = new SplittableRandom(42);
        for (int id : new int[] {0, 1, 30, 8, 2, 12, 13, 14, 39}) {
            GgmlType t = GgmlType.byId(id).orElseThrow();
            int bs = t.blockSize();
            int cols = bs == 1 ? 100 : bs == 256 ? 512 : 96;
            int rows = 7;
            byte[] b = randomRows(id, t, rows, cols, r);
            Files.write(dir.resolve("in.bin"), b);
            float[] want = new float[rows * cols];
            Dequantize.dequantize(t, MemorySegment.ofArray(b), (long) rows * cols, want, 0);
            rc = run(List.of(exe.toString(), "" + id, "" + rows, "" + cols, "in.bin", "out.bin"), dir);
            assertEquals(0, rc, t + ": harness failed: " + read(dir.resolve("log.txt")));
            MemorySegment got = MemorySegment.ofArray(Files.readAllBytes(dir.resolve("out.bin")));
            assertEquals(4L * want.length, got.byteSize(), t + ": output size");
            for (int i = 0; i < want.length; i++) {
                float g = got.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
                if (Float.floatToRawIntBits(g) != Float.floatToRawIntBits(want[i])) {
                    throw new AssertionError(t + " element " + i + " (row " + i / cols + ", col " + i % cols + "): CUDA "
                            + g + ", reference " + want[i]);
                }
            }
        }
    }

    /**
     * The decode matvec's unit code ({@code matvec.cuh}: 16-byte loads, realigned loads of 2- and 1-byte
     * aligned blocks, the K types' two-group units), summed over every unit of each row on the host, gives
     * the reference dot products for every type, with row lengths that are not multiples of 256 where
     * the type allows and rows whose start is only 2- or 1-byte aligned.
     */
    @Test
    void theMatvecUnitsGiveTheReferenceDotProducts() throws Exception {
        Path nvcc = nvcc();
        assumeTrue(nvcc != null, "nvcc not found: CUDA matvec host check skipped");
        Path src = sources();
        assumeTrue(src != null, "kernels-gpu sources not found from " + Path.of("").toAbsolutePath());
        Path exe = dir.resolve("matvec_host");
        int rc = run(List.of(nvcc.toString(), "-std=c++17", "-O1", "-I" + src.resolve("src/main/cuda"),
                "-o", exe.toString(), src.resolve("src/test/cuda/matvec_host.cu").toString()), dir);
        assertEquals(0, rc, () -> "nvcc failed: " + read(dir.resolve("log.txt")));

        SplittableRandom r = new SplittableRandom(11);
        for (int id : new int[] {0, 1, 30, 8, 2, 12, 13, 14, 39}) {
            GgmlType t = GgmlType.byId(id).orElseThrow();
            int bs = t.blockSize();
            int[] colsCases = switch (bs) {
                case 1 -> id == 0 ? new int[] {4, 100, 1028} : new int[] {8, 296, 2056};
                case 256 -> new int[] {256, 768};
                default -> new int[] {32, 352, 1056};
            };
            for (int cols : colsCases) {
                int rows = 7;
                byte[] b = randomRows(id, t, rows, cols, r);
                float[] x = new float[cols];
                for (int i = 0; i < cols; i++) {
                    x[i] = (float) r.nextDouble(-1, 1);
                }
                Files.write(dir.resolve("w.bin"), b);
                MemorySegment xs = MemorySegment.ofArray(new byte[4 * cols]);
                for (int i = 0; i < cols; i++) {
                    xs.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, x[i]);
                }
                Files.write(dir.resolve("x.bin"), xs.toArray(ValueLayout.JAVA_BYTE));
                float[] wf = new float[rows * cols];
                Dequantize.dequantize(t, MemorySegment.ofArray(b), (long) rows * cols, wf, 0);
                rc = run(List.of(exe.toString(), "" + id, "" + rows, "" + cols, "w.bin", "x.bin", "y.bin"), dir);
                assertEquals(0, rc, t + ": harness failed: " + read(dir.resolve("log.txt")));
                MemorySegment got = MemorySegment.ofArray(Files.readAllBytes(dir.resolve("y.bin")));
                assertEquals(4L * rows, got.byteSize(), t + ": output size");
                for (int row = 0; row < rows; row++) {
                    double want = 0;
                    double mag = 0;
                    for (int i = 0; i < cols; i++) {
                        double p = (double) wf[row * cols + i] * x[i];
                        want += p;
                        mag += Math.abs(p);
                    }
                    float g = got.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, row);
                    double tol = 1e-5 * mag + 1e-7;
                    if (!(Math.abs(g - want) <= tol)) {
                        throw new AssertionError(t + " " + rows + "x" + cols + " row " + row + ": matvec " + g
                                + ", reference " + want + " (tolerance " + tol + ")");
                    }
                }
            }
        }
    }

    private static byte[] randomRows(int id, GgmlType t, int rows, int cols, SplittableRandom r) {
        int bs = t.blockSize();
        byte[] b = new byte[cols / bs * t.typeSize() * rows];
        if (bs == 1) {
            for (int i = 0; i < rows * cols; i++) {
                float v = (float) r.nextDouble(-1, 1);
                if (id == 0) {
                    int bits = Float.floatToRawIntBits(v);
                    for (int k = 0; k < 4; k++) {
                        b[4 * i + k] = (byte) (bits >>> (8 * k));
                    }
                } else {
                    short s = id == 1 ? Float.floatToFloat16(v) : (short) (Float.floatToRawIntBits(v) >>> 16);
                    b[2 * i] = (byte) s;
                    b[2 * i + 1] = (byte) (s >>> 8);
                }
            }
            return b;
        }
        r.nextBytes(b);
        for (int at = 0; at < b.length; at += t.typeSize()) {
            switch (id) {
                case 8 -> f16(b, at, r.nextDouble(0.001, 0.02));
                case 2 -> f16(b, at, r.nextDouble(0.01, 0.2));
                case 12, 13 -> {
                    f16(b, at, r.nextDouble(0.0005, 0.003));
                    f16(b, at + 2, r.nextDouble(0.0005, 0.003));
                }
                case 14 -> f16(b, at + 208, r.nextDouble(0.00005, 0.0005));
                case 39 -> b[at] = (byte) (r.nextInt(3) == 0 ? r.nextInt(3) : 118 + r.nextInt(10)); // subnormal scales too
                default -> throw new AssertionError(t);
            }
        }
        return b;
    }

    private static void f16(byte[] b, int at, double v) {
        short s = Float.floatToFloat16((float) v);
        b[at] = (byte) s;
        b[at + 1] = (byte) (s >>> 8);
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
