package dev.isthmus.gguf;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.isthmus.format.ModelFormatException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Jazzer fuzz target for the GGUF reader. Any input must either parse into a consistent file
 * (metadata walkable, tensors inside the data section, first and last tensor bytes readable) or
 * fail with a {@link ModelFormatException} that names an offset inside the input; any other
 * exception or error is a bug. Every accepted file is also rewritten by {@link GgufWriter#copy} and
 * read back, which must give equal metadata, tensor infos and tensor bytes.
 *
 * <p>Without {@code JAZZER_FUZZ} this runs as a regression test over the committed inputs in
 * {@code src/test/resources/dev/isthmus/gguf/GgufFuzzTestInputs/fuzzReader/}. To fuzz:
 * {@code JAZZER_FUZZ=1 ./mvnw -pl gguf-loader -am test -Dtest=GgufFuzzTest -Dsurefire.failIfNoSpecifiedTests=false};
 * findings are written to that directory.
 */
class GgufFuzzTest {
    private static final Path NAME = Path.of("fuzz-input.gguf");
    private static Path copy;

    @FuzzTest(maxDuration = "5m")
    void fuzzReader(byte[] data) {
        MemorySegment seg = MemorySegment.ofArray(data);
        GgufFile f;
        try {
            f = GgufFile.parse(seg, NAME);
        } catch (ModelFormatException e) {
            if (e.offset() < 0 || e.offset() > data.length || !e.getMessage().startsWith(NAME + ": at byte ")) {
                throw new AssertionError("ModelFormatException without a valid offset: " + e.getMessage(), e);
            }
            return;
        }
        try (f) {
            check(f.version() == 2 || f.version() == 3, "version");
            check(f.alignment() > 0 && Long.bitCount(f.alignment()) == 1, "alignment");
            check(f.dataOffset() % f.alignment() == 0, "data offset alignment");
            for (Map.Entry<String, GgufValue> e : f.metadata().entrySet()) {
                walk(e.getValue(), 0);
                check(f.get(e.getKey()).orElseThrow().equals(e.getValue()), "lookup");
            }
            f.architecture();
            for (String key : f.metadata().keySet()) {
                long at = f.keyOffset(key).orElseThrow();
                check(at >= 24 && at < data.length, "key offset");
                try {
                    f.getString(key);
                } catch (ModelFormatException e) {
                    check(e.offset() == at && f.metadata().get(key).type() != GgufValueType.STRING, "getString error");
                }
                try {
                    f.getLong(key);
                } catch (ModelFormatException e) {
                    check(e.offset() == at && !f.metadata().get(key).type().isInteger(), "getLong error");
                }
            }
            for (GgufTensorInfo t : f.tensors()) {
                check(f.tensor(t.name()).orElseThrow().equals(t), "tensor lookup");
                check(t.absoluteOffset() == f.dataOffset() + t.relativeOffset(), "absolute offset");
                check(t.absoluteOffset() >= f.dataOffset() && t.absoluteEnd() <= data.length, "tensor inside the file");
                check(t.byteSize() == t.type().byteSize(t.elementCount()), "byte size");
                check(t.rank() >= 1 && t.rank() <= GgufFile.MAX_DIMS, "rank");
                MemorySegment d = f.tensorData(t);
                check(d.byteSize() == t.byteSize(), "slice size");
                if (d.byteSize() > 0) {
                    d.get(ValueLayout.JAVA_BYTE, 0);
                    d.get(ValueLayout.JAVA_BYTE, d.byteSize() - 1);
                }
            }
            roundTrip(f);
        }
    }

    /** Every file the reader accepts, the writer rewrites, and the rewrite reads back equal. */
    private static void roundTrip(GgufFile f) {
        for (GgufTensorInfo t : f.tensors()) {
            if (t.name().getBytes(StandardCharsets.UTF_8).length > GgufWriter.MAX_TENSOR_NAME_BYTES) {
                return; // llama.cpp rejects such names, so the writer refuses them
            }
        }
        try {
            if (copy == null) {
                copy = Files.createTempFile("gguf-fuzz-", ".gguf");
                copy.toFile().deleteOnExit();
            }
            GgufWriter.copy(f, copy);
            try (GgufFile g = GgufFile.open(copy)) {
                check(g.metadata().equals(f.metadata()), "metadata round trip");
                check(List.copyOf(g.metadata().keySet()).equals(List.copyOf(f.metadata().keySet())), "key order");
                check(g.tensors().size() == f.tensors().size(), "tensor count round trip");
                for (int i = 0; i < f.tensors().size(); i++) {
                    GgufTensorInfo a = f.tensors().get(i);
                    GgufTensorInfo b = g.tensors().get(i);
                    check(a.name().equals(b.name()) && a.type() == b.type() && Arrays.equals(a.shape(), b.shape()),
                            "tensor info round trip");
                    check(f.tensorData(a).mismatch(g.tensorData(b)) == -1, "tensor data round trip");
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void walk(GgufValue v, int depth) {
        check(depth <= GgufFile.MAX_ARRAY_DEPTH, "depth");
        v.toString();
        v.hashCode();
        switch (v.type()) {
            case STRING -> v.asString();
            case BOOL -> v.asBoolean();
            case FLOAT32, FLOAT64 -> v.asDouble();
            case ARRAY -> {
                long n = v.length();
                GgufValueType et = v.elementType();
                if (n > 0) {
                    walk(v.get(0), depth + 1);
                    walk(v.get(n - 1), depth + 1);
                }
                switch (et) {
                    case STRING -> check(v.strings().size() == n, "strings");
                    case ARRAY -> {
                        for (GgufValue e : v.elements()) {
                            walk(e, depth + 1);
                        }
                    }
                    case FLOAT32, FLOAT64 -> check(v.floats().length == n, "floats");
                    case BOOL -> check(v.booleans().length == n, "booleans");
                    default -> check(v.longs().length == n, "longs");
                }
                if (n < 64) {
                    v.toJava();
                }
            }
            default -> {
                v.asLong();
                v.asDouble();
            }
        }
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError("invariant violated: " + what);
        }
    }
}
