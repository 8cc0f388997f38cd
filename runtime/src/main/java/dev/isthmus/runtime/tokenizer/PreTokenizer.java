package dev.isthmus.runtime.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text into the words that byte-level BPE merges within. {@link #split} appends
 * {@code start, end} pairs covering {@code text[start, end)} in order; no character is dropped.
 */
abstract class PreTokenizer {

    /** Appends the words of {@code text[start, end)} to {@code out} as start/end pairs. */
    abstract void split(String text, int start, int end, IntList out);

    // llama.cpp's patterns (its \s is Unicode white space, so UNICODE_CHARACTER_CLASS)
    static final String CONTRACTIONS_CI = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
    static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
    static final String LLAMA3 = CONTRACTIONS_CI
            + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String QWEN2 = CONTRACTIONS_CI
            + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String GPT4O = "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
            + CONTRACTIONS_CI + "?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
            + CONTRACTIONS_CI + "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String TEKKEN = "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
            + "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
            + "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String CJK = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+";
    static final String DEEPSEEK_LLM_LETTERS = "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293"
            + "\u0295-\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5"
            + "\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf"
            + "\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57"
            + "\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3"
            + "\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124"
            + "\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b"
            + "\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e"
            + "\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\\x{10400}-\\x{1044f}\\x{104b0}-\\x{104d3}"
            + "\\x{104d8}-\\x{104fb}\\x{10c80}-\\x{10cb2}\\x{10cc0}-\\x{10cf2}\\x{118a0}-\\x{118df}\\x{1e900}-\\x{1e943}]+";

    /**
     * The pre-tokenizer llama.cpp uses for a {@code tokenizer.ggml.pre} name.
     *
     * @throws IllegalArgumentException naming the pre-tokenizer when it is not known
     */
    static PreTokenizer forGgufName(String pre) {
        return switch (pre) {
            case "default" -> regex("[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]");
            case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "dbrx",
                    "smaug-bpe", "glm4", "chatglm-bpe" -> Scanner.LLAMA3;
            case "deepseek-llm" -> regex("[\r\n]", DEEPSEEK_LLM_LETTERS, "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+",
                    "\\s+\\z", CJK, "\\p{N}+");
            case "deepseek-coder" -> regex("[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", CJK, "\\p{N}");
            case "falcon" -> regex("[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2, "[0-9][0-9][0-9]");
            case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b" -> regex("\\p{N}", GPT2);
            case "gpt-2", "phi-2", "jina-es", "jina-de", "jina-v2-es", "jina-v2-de", "jina-v1-en", "jina-v2-code",
                    "roberta-bpe", "mpt", "olmo", "jais", "trillion", "exaone4", "gigachat", "mellum", "modern-bert",
                    "a.x-4.0" -> Scanner.GPT2;
            case "qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", "hunyuan", "kormo" -> Scanner.QWEN2;
            case "gpt-4o", "llama4", "minimax-m2" -> regex(GPT4O);
            case "tekken" -> regex(TEKKEN);
            default -> throw new IllegalArgumentException("unknown pre-tokenizer '" + pre
                    + "' (tokenizer.ggml.pre); known: default, llama-bpe, qwen2, deepseek-llm, deepseek-coder, falcon, "
                    + "gpt-2, mpt, starcoder, refact, smollm, olmo, gpt-4o, tekken, command-r and their aliases");
        };
    }

    /** Whether llama.cpp skips the merges for words that are whole tokens, for this pre-tokenizer name. */
    static boolean ignoresMerges(String pre) {
        return switch (pre) {
            case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "tekken" -> true;
            default -> false;
        };
    }

    /** Regexes applied one after another, llama.cpp style: each splits every piece the previous ones left. */
    static PreTokenizer regex(String... patterns) {
        List<Pattern> ps = new ArrayList<>();
        for (String p : patterns) {
            ps.add(Pattern.compile(p, Pattern.UNICODE_CHARACTER_CLASS));
        }
        return new RegexSequence(ps);
    }

    // the patterns as Hugging Face tokenizer.json files spell them
    static final String HF_GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    static final String HF_LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String HF_QWEN2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /**
     * HF {@code Split} regexes (with {@code Isolated} behaviour) or ByteLevel's own, applied in
     * order; the GPT-2, Llama 3 and Qwen 2 patterns alone get the hand-written {@link Scanner}.
     */
    static PreTokenizer hfRegexes(List<String> patterns) {
        if (patterns.size() == 1) {
            switch (patterns.getFirst()) {
                case HF_GPT2, GPT2:
                    return Scanner.GPT2;
                case HF_LLAMA3, LLAMA3:
                    return Scanner.LLAMA3;
                case HF_QWEN2, QWEN2:
                    return Scanner.QWEN2;
                default:
                    break;
            }
        }
        return regex(patterns.toArray(String[]::new));
    }

    /** The whole text as one word. */
    static final PreTokenizer WHOLE = new PreTokenizer() {
        @Override
        void split(String text, int start, int end, IntList out) {
            if (end > start) {
                out.add(start);
                out.add(end);
            }
        }
    };

    private static final class RegexSequence extends PreTokenizer {
        private final List<Pattern> patterns;

        RegexSequence(List<Pattern> patterns) {
            this.patterns = patterns;
        }

        @Override
        void split(String text, int start, int end, IntList out) {
            IntList cur = new IntList(8);
            cur.add(start);
            cur.add(end);
            for (int p = 0; p < patterns.size(); p++) {
                Matcher m = patterns.get(p).matcher(text);
                IntList next = p == patterns.size() - 1 ? out : new IntList(cur.size() * 2);
                for (int i = 0; i < cur.size(); i += 2) {
                    int s = cur.get(i);
                    int e = cur.get(i + 1);
                    m.region(s, e);
                    int pos = s;
                    while (m.find()) {
                        if (m.end() == m.start()) {
                            continue;
                        }
                        if (m.start() > pos) {
                            next.add(pos);
                            next.add(m.start());
                        }
                        next.add(m.start());
                        next.add(m.end());
                        pos = m.end();
                    }
                    if (pos < e) {
                        next.add(pos);
                        next.add(e);
                    }
                }
                cur = next;
            }
        }
    }
}
