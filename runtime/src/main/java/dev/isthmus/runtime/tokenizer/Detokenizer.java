package dev.isthmus.runtime.tokenizer;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Streaming detokenization: {@link #push} one generated id at a time and get the text that is
 * complete so far. A token that ends inside a UTF-8 sequence (byte-level BPE and byte-fallback
 * tokens split characters such as emoji) is held back until the character completes; bytes that
 * can never complete one come out as U+FFFD. Not thread-safe: one instance per stream.
 */
public final class Detokenizer {
    private final BaseTokenizer tokenizer;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE)
            .onUnmappableCharacter(CodingErrorAction.REPLACE);
    private ByteBuffer pending = ByteBuffer.allocate(64);
    private CharBuffer chars = CharBuffer.allocate(64);
    private boolean first = true;

    Detokenizer(BaseTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /**
     * Adds one token and returns the text it completes (possibly empty).
     *
     * @throws IllegalArgumentException for an id outside the vocabulary
     */
    public String push(int id) {
        byte[] b = tokenizer.pieceBytes(id);
        if (b.length == 0) {
            return "";
        }
        int from = 0;
        if (first && tokenizer.stripsLeadingSpace() && b[0] == ' ') {
            from = 1;
        }
        first = false;
        ensure(b.length - from);
        pending.put(b, from, b.length - from);
        return drain(false);
    }

    /** Returns what is still held back (an incomplete character becomes U+FFFD) and resets the stream. */
    public String flush() {
        String s = drain(true);
        first = true;
        return s;
    }

    private void ensure(int more) {
        if (pending.remaining() < more) {
            ByteBuffer n = ByteBuffer.allocate(Math.max(pending.capacity() * 2, pending.position() + more));
            pending.flip();
            n.put(pending);
            pending = n;
        }
    }

    private String drain(boolean end) {
        pending.flip();
        if (chars.capacity() < pending.remaining() + 2) {
            chars = CharBuffer.allocate(pending.remaining() * 2 + 2);
        }
        chars.clear();
        CoderResult r = utf8.decode(pending, chars, end);
        if (r.isOverflow()) {
            throw new IllegalStateException("detokenizer buffer overflow");
        }
        if (end) {
            utf8.flush(chars);
            utf8.reset();
        }
        pending.compact();
        chars.flip();
        return chars.toString();
    }
}
