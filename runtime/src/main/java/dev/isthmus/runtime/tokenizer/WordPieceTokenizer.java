package dev.isthmus.runtime.tokenizer;

import java.nio.charset.StandardCharsets;
import java.text.Normalizer;

/**
 * WordPiece ({@code tokenizer.ggml.model = bert}) as llama.cpp runs it: BERT's basic normalization
 * (optionally strip accents through NFD and lowercase; drop control characters; split on white
 * space; punctuation, ASCII symbols and CJK ideographs are words of their own), then each word,
 * with {@code ▁} in front (GGUF BERT vocabularies mark word starts that way instead of marking
 * continuations with {@code ##}), is cut greedily into the longest vocabulary entries from the
 * left; a word that cannot be cut completely is the unknown token.
 */
final class WordPieceTokenizer extends BaseTokenizer {
    private final boolean lowercase;
    private final boolean stripAccents;

    WordPieceTokenizer(Vocab vocab, boolean lowercase, boolean stripAccents) {
        super(vocab);
        this.lowercase = lowercase;
        this.stripAccents = stripAccents;
    }

    @Override
    boolean stripsLeadingSpace() {
        return true;
    }

    @Override
    byte[] normalBytes(int id) {
        return vocab.tokens[id].replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
    }

    @Override
    void encodeText(String text, int start, int end, boolean afterSpecial, IntList out) {
        StringBuilder word = new StringBuilder("\u2581");
        for (int i = start; i < end; ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (stripAccents && cp >= 0x80) {
                String d = Normalizer.normalize(new String(Character.toChars(cp)), Normalizer.Form.NFD);
                cp = d.codePointAt(0);
            }
            if (isWhitespace(cp)) {
                flush(word, out);
                continue;
            }
            int type = Character.getType(cp);
            if (cp == 0 || cp == 0xFFFD || isControl(type)) {
                continue;
            }
            if (stripAccents && isMark(type)) {
                continue;
            }
            int c = lowercase ? Character.toLowerCase(cp) : cp;
            if (isPunctuation(type) || (cp < 0x7F && isSymbol(type)) || isChinese(cp)) {
                flush(word, out);
                word.appendCodePoint(c);
                flush(word, out);
            } else {
                word.appendCodePoint(c);
            }
        }
        flush(word, out);
    }

    /** Tokenizes the word in {@code w} (which starts with ▁) and resets it to "▁". */
    private void flush(StringBuilder w, IntList out) {
        int n = w.length();
        if (n <= 1) {
            return;
        }
        String word = w.toString();
        w.setLength(1);
        int before = out.size();
        for (int i = 0; i < n; ) {
            boolean match = false;
            for (int j = Math.min(n, i + vocab.maxTokenChars + 1); j > i; j--) {
                int id = vocab.id(word.substring(i, j));
                if (id >= 0) {
                    out.add(id);
                    match = true;
                    i = j;
                    break;
                }
            }
            if (!match) {
                out.truncate(before);
                break;
            }
        }
        if (out.size() == before) {
            out.add(vocab.unk);
        }
    }

    static boolean isWhitespace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F
                || cp == 0x205F || cp == 0x3000;
    }

    private static boolean isControl(int type) {
        return type == Character.CONTROL || type == Character.FORMAT || type == Character.PRIVATE_USE
                || type == Character.SURROGATE;
    }

    private static boolean isMark(int type) {
        return type == Character.NON_SPACING_MARK || type == Character.COMBINING_SPACING_MARK
                || type == Character.ENCLOSING_MARK;
    }

    private static boolean isPunctuation(int type) {
        return switch (type) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                    Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                    Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }

    private static boolean isSymbol(int type) {
        return switch (type) {
            case Character.MATH_SYMBOL, Character.CURRENCY_SYMBOL, Character.MODIFIER_SYMBOL, Character.OTHER_SYMBOL -> true;
            default -> false;
        };
    }

    private static boolean isChinese(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}
