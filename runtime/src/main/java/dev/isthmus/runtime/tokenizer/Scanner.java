package dev.isthmus.runtime.tokenizer;

/** The common pre-tokenizers (placeholder: the regexes; a hand-written scanner replaces them). */
final class Scanner {
    static final PreTokenizer GPT2 = PreTokenizer.regex(PreTokenizer.GPT2);
    static final PreTokenizer LLAMA3 = PreTokenizer.regex(PreTokenizer.LLAMA3);
    static final PreTokenizer QWEN2 = PreTokenizer.regex(PreTokenizer.QWEN2);

    private Scanner() {
    }
}
