package dev.isthmus.runtime.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * What every vocabulary type shares: splitting special tokens out of the text, BOS/EOS, the
 * per-token bytes for decoding, and the streaming decoder. Subclasses tokenize plain-text runs.
 */
abstract class BaseTokenizer implements Tokenizer {
    final Vocab vocab;
    private final int[] userSpecials;
    private final int[] allSpecials;
    private final AtomicReferenceArray<byte[]> pieceBytes; // filled lazily, safely published

    BaseTokenizer(Vocab vocab) {
        this.vocab = vocab;
        this.userSpecials = vocab.specials(false);
        this.allSpecials = vocab.specials(true);
        this.pieceBytes = new AtomicReferenceArray<>(vocab.size());
    }

    /** Tokenizes one run of plain text ({@code text[start, end)}); {@code afterSpecial} when it starts the input or follows a special token. */
    abstract void encodeText(String text, int start, int end, boolean afterSpecial, IntList out);

    /** The bytes a normal token stands for when decoded. */
    abstract byte[] normalBytes(int id);

    /** Whether decoding drops the space in front of the first word (SentencePiece's prefix space). */
    abstract boolean stripsLeadingSpace();

    @Override
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        if (text == null) {
            throw new IllegalArgumentException("text is null");
        }
        text = Utf16.sanitize(text);
        IntList out = new IntList(text.length() / 3 + 4);
        if (addBos && vocab.addBos && vocab.valid(vocab.bos)) {
            out.add(vocab.bos);
        }
        int[] specials = parseSpecial ? allSpecials : userSpecials;
        if (!text.isEmpty()) {
            if (specials.length == 0) {
                encodeText(text, 0, text.length(), true, out);
            } else {
                encodeWithSpecials(text, specials, out);
            }
        }
        if (addBos && vocab.addEos && vocab.valid(vocab.eos)) {
            out.add(vocab.eos);
        }
        if (addBos && vocab.addSep && vocab.valid(vocab.sep)) {
            out.add(vocab.sep);
        }
        return out.toArray();
    }

    /**
     * llama.cpp's partition: each special token, longest first, is cut out of every run of text
     * that is still plain; then the runs are tokenized in order.
     */
    private void encodeWithSpecials(String text, int[] specials, IntList out) {
        // fragments as (start, end, token): token >= 0 is a special token, else text[start, end)
        IntList frag = new IntList(16);
        frag.add(0);
        frag.add(text.length());
        frag.add(-1);
        for (int id : specials) {
            String s = vocab.tokens[id];
            if (text.indexOf(s) < 0) {
                continue;
            }
            IntList next = new IntList(frag.size() + 6);
            for (int f = 0; f < frag.size(); f += 3) {
                int start = frag.get(f);
                int end = frag.get(f + 1);
                int tok = frag.get(f + 2);
                if (tok >= 0) {
                    next.add(start);
                    next.add(end);
                    next.add(tok);
                    continue;
                }
                int pos = start;
                while (pos < end) {
                    int hit = text.indexOf(s, pos);
                    if (hit < 0 || hit + s.length() > end) {
                        break;
                    }
                    if (hit > pos) {
                        next.add(pos);
                        next.add(hit);
                        next.add(-1);
                    }
                    next.add(hit);
                    next.add(hit + s.length());
                    next.add(id);
                    pos = hit + s.length();
                }
                if (pos < end) {
                    next.add(pos);
                    next.add(end);
                    next.add(-1);
                }
            }
            frag = next;
        }
        boolean afterSpecial = true;
        for (int f = 0; f < frag.size(); f += 3) {
            int tok = frag.get(f + 2);
            if (tok >= 0) {
                out.add(tok);
                afterSpecial = true;
            } else {
                encodeText(text, frag.get(f), frag.get(f + 1), afterSpecial, out);
                afterSpecial = false;
            }
        }
    }

    @Override
    public String decode(int[] ids) {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream(ids.length * 4);
        boolean first = true;
        for (int id : ids) {
            byte[] p = pieceBytes(id);
            if (p.length == 0) {
                continue;
            }
            int from = first && stripsLeadingSpace() && p[0] == ' ' ? 1 : 0;
            first = false;
            b.write(p, from, p.length - from);
        }
        return new String(b.toByteArray(), StandardCharsets.UTF_8);
    }

    /** The bytes {@code id} adds to decoded text (empty for control and unused tokens); cached. */
    final byte[] pieceBytes(int id) {
        check(id);
        byte[] p = pieceBytes.get(id);
        if (p == null) {
            p = switch (vocab.types[id]) {
                case Vocab.CONTROL, Vocab.UNUSED -> new byte[0];
                case Vocab.USER_DEFINED -> userDefinedBytes(id);
                case Vocab.UNKNOWN -> "\u2585".getBytes(StandardCharsets.UTF_8);
                case Vocab.BYTE -> byteTokenBytes(id);
                default -> normalBytes(id);
            };
            pieceBytes.set(id, p); // a race only computes the same bytes twice
        }
        return p;
    }

    /** User-defined tokens decode to their text as written (SentencePiece vocabularies: with spaces for ▁). */
    byte[] userDefinedBytes(int id) {
        return vocab.tokens[id].getBytes(StandardCharsets.UTF_8);
    }

    private byte[] byteTokenBytes(int id) {
        String t = vocab.tokens[id];
        if (t.length() == 6 && t.startsWith("<0x") && t.endsWith(">")) {
            try {
                return new byte[] {(byte) Integer.parseInt(t.substring(3, 5), 16)};
            } catch (NumberFormatException e) {
                // fall through: not a byte token after all
            }
        }
        return normalBytes(id);
    }

    private void check(int id) {
        if (!vocab.valid(id)) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary (0.." + (vocab.size() - 1) + ")");
        }
    }

    @Override
    public Detokenizer streamingDecoder() {
        return new Detokenizer(this);
    }

    @Override
    public int vocabSize() {
        return vocab.size();
    }

    @Override
    public OptionalInt bos() {
        return vocab.valid(vocab.bos) ? OptionalInt.of(vocab.bos) : OptionalInt.empty();
    }

    @Override
    public OptionalInt eos() {
        return vocab.valid(vocab.eos) ? OptionalInt.of(vocab.eos) : OptionalInt.empty();
    }

    @Override
    public boolean isEndOfGeneration(int id) {
        return id >= 0 && vocab.eog.get(id);
    }

    @Override
    public String piece(int id) {
        check(id);
        return vocab.tokens[id];
    }
}
