package dev.isthmus.runtime.tokenizer;

/**
 * GPT-2's byte-level alphabet: every byte is written as one printable code point (printable
 * Latin-1 bytes as themselves, the other 68 bytes as U+0100 upwards), so that a byte-level BPE
 * vocabulary is a list of ordinary strings.
 */
final class ByteLevel {
    /** The code point that stands for each byte. */
    static final char[] BYTE_TO_CHAR = new char[256];
    /** The byte for each code point below 0x200, or -1. */
    private static final int[] CHAR_TO_BYTE = new int[0x200];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int next = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + next++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private ByteLevel() {
    }

    /** The byte a code point stands for, or -1 when it is not in the alphabet. */
    static int byteOf(int codePoint) {
        return codePoint >= 0 && codePoint < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[codePoint] : -1;
    }

    /**
     * The bytes a byte-level token text stands for; code points outside the alphabet (which a
     * well-formed vocabulary does not have) are kept as their UTF-8.
     */
    static byte[] decode(String text) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(text.length());
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            int b = byteOf(cp);
            if (b >= 0) {
                out.write(b);
            } else {
                byte[] u = new String(Character.toChars(cp)).getBytes(java.nio.charset.StandardCharsets.UTF_8);
                out.write(u, 0, u.length);
            }
        }
        return out.toByteArray();
    }

    /** The byte-level text of some UTF-8 bytes. */
    static String encode(byte[] bytes) {
        char[] c = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            c[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        }
        return new String(c);
    }
}
