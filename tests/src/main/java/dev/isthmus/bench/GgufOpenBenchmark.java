package dev.isthmus.bench;

import dev.isthmus.gguf.GgufFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Opening a model is O(metadata): open + close of sparse GGUF files of 10 MB, 1 GB and 8 GB with
 * the same header. The times should be alike whatever the file size.
 *
 * <pre>java -jar tests/target/benchmarks.jar GgufOpenBenchmark</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class GgufOpenBenchmark {
    @Param({"10MB", "1GB", "8GB"})
    public String size;

    private Path file;

    @Setup(Level.Trial)
    public void makeFile() throws IOException {
        long bytes = switch (size) {
            case "10MB" -> 10L << 20;
            case "1GB" -> 1L << 30;
            case "8GB" -> 8L << 30;
            default -> throw new IllegalArgumentException(size);
        };
        file = SparseModels.write(Files.createTempFile("isthmus-open-" + size, ".gguf"), bytes);
    }

    @TearDown(Level.Trial)
    public void deleteFile() throws IOException {
        Files.deleteIfExists(file);
    }

    @Benchmark
    public long openAndClose() throws IOException {
        try (GgufFile g = GgufFile.open(file)) {
            return g.tensors().size() + g.fileSize();
        }
    }
}
