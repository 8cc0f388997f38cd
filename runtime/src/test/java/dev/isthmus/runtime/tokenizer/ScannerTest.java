package dev.isthmus.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The hand-written scanners give exactly the regexes' words, on random text made of tricky characters. */
class ScannerTest {
    static final String[] PIECES = {" ", " ", "  ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000", "\u2028", "\u0085",
        "a", "Z", "hello", "World", "\u00e9", "\u0301", "1", "23", "\u0663", "\u2167", "\u00bd", "'", "'s", "'S", "'re",
        "'LL", "'Ve", "'d", "'x", "!", "...", "(", "-", "/", "$", "\uD83D\uDE00", "\uD83E\uDD99", "\u4e2d\u6587",
        "\uD835\uDC00", "\uD800\uDF30", "\u200d", "\ufe0f", "_", "\u0000"};

    static String random(Random r, int n) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            b.append(PIECES[r.nextInt(PIECES.length)]);
        }
        return b.toString();
    }

    static int[] words(PreTokenizer p, String s, int start, int end) {
        IntList out = new IntList(8);
        p.split(s, start, end, out);
        return out.toArray();
    }

    void compare(PreTokenizer scanner, PreTokenizer regex) {
        Random r = new Random(7);
        for (int t = 0; t < 20_000; t++) {
            String s = random(r, 1 + r.nextInt(12));
            int start = r.nextInt(3) == 0 ? Math.min(1, s.length()) : 0;
            if (start == 1 && (s.length() < 2 || Character.isLowSurrogate(s.charAt(1)))) {
                start = 0;
            }
            int[] want = words(regex, s, start, s.length());
            int[] got = words(scanner, s, start, s.length());
            assertArrayEquals(want, got, () -> "text " + escape(s));
        }
    }

    static String escape(String s) {
        StringBuilder b = new StringBuilder("\"");
        s.codePoints().forEach(c -> b.append(c >= 0x20 && c < 0x7f ? Character.toString(c) : String.format("\\u{%x}", c)));
        return b.append('"').toString();
    }

    @Test
    void gpt2() {
        compare(Scanner.GPT2, PreTokenizer.regex(PreTokenizer.GPT2));
        compare(Scanner.GPT2, PreTokenizer.regex(PreTokenizer.HF_GPT2));
    }

    @Test
    void llama3() {
        compare(Scanner.LLAMA3, PreTokenizer.regex(PreTokenizer.LLAMA3));
        compare(Scanner.LLAMA3, PreTokenizer.regex(PreTokenizer.HF_LLAMA3));
    }

    @Test
    void qwen2() {
        compare(Scanner.QWEN2, PreTokenizer.regex(PreTokenizer.QWEN2));
        compare(Scanner.QWEN2, PreTokenizer.regex(PreTokenizer.HF_QWEN2));
    }

    @Test
    void chosenForTheirNames() {
        assertSame(Scanner.LLAMA3, PreTokenizer.forGgufName("llama-bpe"));
        assertSame(Scanner.QWEN2, PreTokenizer.forGgufName("qwen2"));
        assertSame(Scanner.GPT2, PreTokenizer.forGgufName("gpt-2"));
        assertSame(Scanner.LLAMA3, PreTokenizer.hfRegexes(List.of(PreTokenizer.HF_LLAMA3)));
    }
}
