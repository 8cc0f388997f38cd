package dev.isthmus.runtime.tokenizer;

import dev.isthmus.gguf.GgufFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * Text to token ids and back, for one model's vocabulary. Instances are immutable and safe to
 * share between threads; {@link #streamingDecoder()} gives a per-stream object that is not.
 *
 * <p>Java strings cannot hold invalid UTF-8, but they can hold lone surrogates: {@link #encode}
 * tokenizes each lone surrogate as U+FFFD (the replacement character), as a UTF-8 encoder would.
 *
 * <p>Special tokens: control tokens (BOS, EOS, {@code <|im_start|>} ...) come out of
 * {@link #encode} only when {@code parseSpecial} is true and their exact text is in the input;
 * from plain text they never do. Added non-special ("user-defined") tokens are matched in every
 * case, as llama.cpp and Hugging Face tokenizers do.
 */
public interface Tokenizer {

    /**
     * The ids of {@code text}.
     *
     * @param addBos       add the special tokens the model's metadata asks for around a sequence:
     *                     BOS when {@code tokenizer.ggml.add_bos_token} (or the model type's
     *                     default) says so, EOS when {@code add_eos_token} does, BERT's CLS/SEP
     *                     (llama.cpp's {@code add_special}); a model whose metadata says not to add
     *                     BOS (Qwen) gets none
     * @param parseSpecial recognise the text of control tokens in {@code text} (else it is
     *                     tokenized as plain text)
     */
    int[] encode(String text, boolean addBos, boolean parseSpecial);

    /**
     * The text of {@code ids}. Control tokens (BOS, EOS, turn markers) and unused tokens add
     * nothing; bytes that do not form valid UTF-8 become U+FFFD. SentencePiece and WordPiece
     * vocabularies drop the space the tokenizer put in front of the first word.
     *
     * @throws IllegalArgumentException for an id outside the vocabulary
     */
    String decode(int[] ids);

    /** A new decoder for one stream of generated ids (see {@link Detokenizer}). */
    Detokenizer streamingDecoder();

    /** Number of tokens in the vocabulary. */
    int vocabSize();

    /** The beginning-of-sequence token, when the model has one. */
    OptionalInt bos();

    /** The end-of-sequence token, when the model has one. */
    OptionalInt eos();

    /**
     * Whether generation ends at {@code id}: EOS, and the end-of-turn / end-of-message tokens from
     * the metadata ({@code tokenizer.ggml.eot_token_id}, {@code eom_token_id}) or recognised by
     * their text ({@code <|eot_id|>}, {@code <|im_end|>}, {@code <|endoftext|>}, {@code <end_of_turn>} ...).
     */
    boolean isEndOfGeneration(int id);

    /**
     * The vocabulary entry of {@code id} exactly as stored (byte-level BPE entries in GPT-2's byte
     * alphabet, SentencePiece entries with {@code ▁} for spaces).
     *
     * @throws IllegalArgumentException for an id outside the vocabulary
     */
    String piece(int id);

    /**
     * The tokenizer described by a GGUF file's {@code tokenizer.ggml.*} metadata: {@code llama}
     * (SentencePiece), {@code gpt2} (byte-level BPE, with the pre-tokenizer named by
     * {@code tokenizer.ggml.pre}) or {@code bert} (WordPiece). The file may be closed afterwards.
     *
     * @throws IllegalArgumentException when the metadata is missing, inconsistent, or names a
     *                                  tokenizer model or pre-tokenizer this class does not know
     */
    static Tokenizer fromGguf(GgufFile gguf) {
        return GgufTokenizers.load(gguf);
    }

    /**
     * The tokenizer of a Hugging Face model folder: its {@code tokenizer.json} (a BPE model with a
     * byte-level or Metaspace pre-tokenizer, normalizers, added tokens) and
     * {@code tokenizer_config.json} (BOS/EOS and whether to add them).
     *
     * @throws IOException              when the files cannot be read
     * @throws IllegalArgumentException when {@code tokenizer.json} uses something not supported
     */
    static Tokenizer fromHfFolder(Path folder) throws IOException {
        return HfTokenizers.load(folder);
    }
}
