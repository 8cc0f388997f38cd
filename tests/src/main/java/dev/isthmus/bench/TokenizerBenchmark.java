package dev.isthmus.bench;

import dev.isthmus.gguf.GgufFile;
import dev.isthmus.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * Tokenization throughput. Each operation encodes one text of exactly 1 MiB of UTF-8, so the
 * score in ops/s is MiB/s. Vocabularies come from {@code ../shared/vocab} (or
 * {@code -Disthmus.shared=DIR}).
 *
 * <ul>
 *   <li>{@code english}: English prose: the file named by {@code -Disthmus.bench.english=FILE}
 *       when given (e.g. a plain-text corpus), else this repository's own Markdown documentation
 *       (run from the repository root), repeated to 1 MiB.
 *   <li>{@code cjk-code}: a mix of Chinese (common characters in seeded random runs with
 *       Chinese punctuation), Java source from this repository, and the multilingual lines of
 *       llama.cpp's test inputs.
 * </ul>
 *
 * <pre>java -jar tests/target/benchmarks.jar TokenizerBenchmark</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class TokenizerBenchmark {
    static final int BYTES = 1 << 20;
    static final String COMMON_HANZI = "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事"
            + "其里所去行过家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定见只主没公从";

    @Param({"regen-vocab-llama3", "regen-vocab-qwen3", "ggml-vocab-gpt-2", "ggml-vocab-llama-spm"})
    public String vocab;

    @Param({"english", "cjk-code"})
    public String text;

    private Tokenizer tokenizer;
    private String input;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        Path dir = Path.of(System.getProperty("isthmus.shared", "../shared"), "vocab");
        try (GgufFile f = GgufFile.open(dir.resolve(vocab + ".gguf"))) {
            tokenizer = Tokenizer.fromGguf(f);
        }
        String source = switch (text) {
            case "english" -> english();
            case "cjk-code" -> cjkAndCode(dir);
            default -> throw new IllegalArgumentException(text);
        };
        input = toOneMiB(source);
        int tokens = tokenizer.encode(input, false, false).length;
        System.out.printf("%n%s/%s: %d bytes, %d chars, %d tokens%n", vocab, text,
                input.getBytes(StandardCharsets.UTF_8).length, input.length(), tokens);
    }

    static String english() throws IOException {
        String file = System.getProperty("isthmus.bench.english");
        if (file != null) {
            return Files.readString(Path.of(file));
        }
        StringBuilder b = new StringBuilder();
        b.append(Files.readString(Path.of("README.md")));
        try (Stream<Path> s = Files.list(Path.of("docs"))) {
            for (Path p : s.filter(p -> p.toString().endsWith(".md")).sorted().toList()) {
                b.append('\n').append(Files.readString(p));
            }
        }
        return b.toString();
    }

    static String cjkAndCode(Path vocabDir) throws IOException {
        StringBuilder code = new StringBuilder();
        try (Stream<Path> s = Files.walk(Path.of("runtime", "src", "main", "java"))) {
            for (Path p : s.filter(p -> p.toString().endsWith(".java")).sorted().limit(40).toList()) {
                code.append(Files.readString(p));
            }
        }
        List<String> lines = Files.readAllLines(vocabDir.resolve("ggml-vocab-llama-bpe.gguf.inp"));
        Random r = new Random(42);
        StringBuilder b = new StringBuilder();
        int codePos = 0;
        while (b.length() < BYTES) {
            for (int sentence = 0; sentence < 8; sentence++) {
                int len = 8 + r.nextInt(30);
                for (int i = 0; i < len; i++) {
                    b.append(COMMON_HANZI.charAt(r.nextInt(COMMON_HANZI.length())));
                    if (r.nextInt(12) == 0) {
                        b.append('，');
                    }
                }
                b.append(r.nextBoolean() ? "。" : "！");
            }
            b.append('\n');
            int n = 1500 + r.nextInt(1500);
            int end = Math.min(code.length(), codePos + n);
            b.append(code, codePos, end);
            codePos = end == code.length() ? 0 : end;
            b.append('\n').append(lines.get(r.nextInt(lines.size()))).append('\n');
        }
        return b.toString();
    }

    /** {@code s} repeated and cut (at a character boundary) to exactly {@link #BYTES} bytes of UTF-8, padded with spaces. */
    static String toOneMiB(String s) {
        StringBuilder b = new StringBuilder(BYTES);
        int bytes = 0;
        outer:
        while (true) {
            for (int i = 0; i < s.length(); ) {
                int cp = s.codePointAt(i);
                int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
                if (bytes + n > BYTES) {
                    break outer;
                }
                b.appendCodePoint(cp);
                bytes += n;
                i += Character.charCount(cp);
            }
        }
        while (bytes < BYTES) {
            b.append(' ');
            bytes++;
        }
        return b.toString();
    }

    @Benchmark
    public int encode() {
        return tokenizer.encode(input, false, false).length;
    }
}
