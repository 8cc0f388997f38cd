package dev.isthmus.safetensors;

import dev.isthmus.format.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** Every malformed variant must be a {@link ModelFormatException} naming the file, never anything else. */
class SafetensorsCorruptionTest {
    @TempDir
    Path dir;

    private static final String A = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    private static String entry(String name, String dtype, String shape, String offsets) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
    }

    static Stream<Arguments> badHeaders() {
        return Stream.of(
                Arguments.of("not an object (array)", "[1,2,3]", "does not start"),
                Arguments.of("leading space", " {" + A + "}", "does not start"),
                Arguments.of("not json", "{this is not json}", "JSON"),
                Arguments.of("unterminated", "{" + A, "JSON"),
                Arguments.of("trailing garbage", "{" + A + "} x", "JSON"),
                Arguments.of("two objects", "{" + A + "}{}", "trailing"),
                Arguments.of("duplicate tensor", "{" + A + "," + A + "}", "Duplicate"),
                Arguments.of("duplicate field", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "Duplicate"),
                Arguments.of("duplicate metadata key", "{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}," + A + "}", "Duplicate"),
                Arguments.of("unknown dtype", "{" + entry("a", "F31", "[2]", "[0,8]") + "}", "unknown dtype"),
                Arguments.of("lower-case dtype", "{" + entry("a", "f32", "[2]", "[0,8]") + "}", "unknown dtype"),
                Arguments.of("dtype not string", "{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", "dtype"),
                Arguments.of("missing dtype", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", "no dtype"),
                Arguments.of("missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", "no shape"),
                Arguments.of("missing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", "no data_offsets"),
                Arguments.of("negative dim", "{" + entry("a", "F32", "[-2]", "[0,8]") + "}", "negative"),
                Arguments.of("float dim", "{" + entry("a", "F32", "[2.0]", "[0,8]") + "}", "non-integer"),
                Arguments.of("string dim", "{" + entry("a", "F32", "[\"2\"]", "[0,8]") + "}", "non-integer"),
                Arguments.of("shape not array", "{" + entry("a", "F32", "2", "[0,8]") + "}", "not an array"),
                Arguments.of("huge dim", "{" + entry("a", "F32", "[99999999999999999999999]", "[0,8]") + "}", "too large"),
                Arguments.of("element count overflow", "{" + entry("a", "U8", "[4294967296,4294967296]", "[0,8]") + "}", "overflow"),
                Arguments.of("byte size overflow", "{" + entry("a", "F64", "[4611686018427387904]", "[0,8]") + "}", "overflow"),
                Arguments.of("too many dims", "{" + entry("a", "U8", "[" + "1,".repeat(64) + "1]", "[0,1]") + "}", "more than"),
                Arguments.of("begin > end", "{" + entry("a", "F32", "[0]", "[8,0]") + "}", "begin"),
                Arguments.of("three offsets", "{" + entry("a", "F32", "[2]", "[0,8,8]") + "}", "more than 2"),
                Arguments.of("one offset", "{" + entry("a", "F32", "[2]", "[0]") + "}", "[begin, end]"),
                Arguments.of("negative offset", "{" + entry("a", "F32", "[2]", "[-8,0]") + "}", "negative"),
                Arguments.of("end beyond buffer", "{" + entry("a", "F32", "[4]", "[0,16]") + "}", "beyond the data buffer"),
                Arguments.of("offset beyond long", "{" + entry("a", "F32", "[2]", "[0,18446744073709551615]") + "}", "too large"),
                Arguments.of("size mismatch", "{" + entry("a", "F32", "[3]", "[0,8]") + "}", "need 12 bytes"),
                Arguments.of("overlap", "{" + A + "," + entry("b", "U8", "[4]", "[4,8]") + "}", "overlaps"),
                Arguments.of("overlap same start", "{" + entry("a", "U8", "[2]", "[2,4]") + "," + entry("b", "U8", "[4]", "[2,6]") + "}", "overlaps"),
                Arguments.of("entry not object", "{\"a\":[1,2]}", "not an object"),
                Arguments.of("metadata not object", "{\"__metadata__\":[]," + A + "}", "__metadata__"),
                Arguments.of("metadata value not string", "{\"__metadata__\":{\"k\":1}," + A + "}", "not a string"),
                Arguments.of("deep nesting", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":"
                        + "[".repeat(5000) + "]".repeat(5000) + "}}", "JSON"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badHeaders")
    void malformedHeader(String what, String header, String expect) throws Exception {
        Path p = dir.resolve("bad.safetensors");
        Files.write(p, StBytes.raw(header, new byte[8]));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(p), what);
        assertEquals(p, e.file());
        assertTrue(e.offset() >= 0, "has an offset: " + e.getMessage());
        assertTrue(e.getMessage().contains(expect), what + ": " + e.getMessage());
        // the in-memory entry point agrees
        assertThrows(ModelFormatException.class, () -> SafetensorsFile.read(Files.readAllBytes(p), p));
    }

    @Test
    void invalidUtf8() {
        byte[] h = ("{\"a\u00e9\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}").getBytes(StandardCharsets.UTF_8);
        SafetensorsFile.read(StBytes.raw(h, new byte[1]), null).close(); // valid as written
        for (byte[] badSeq : new byte[][]{{(byte) 0xC3}, {(byte) 0xFF}, {(byte) 0xC0, (byte) 0xAF},
                {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}}) {
            byte[] bad = new byte[h.length + badSeq.length];
            System.arraycopy(h, 0, bad, 0, 3);
            System.arraycopy(badSeq, 0, bad, 3, badSeq.length);
            System.arraycopy(h, 3, bad, 3 + badSeq.length, h.length - 3);
            var e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.read(StBytes.raw(bad, new byte[1]), null));
            assertTrue(e.reason().contains("UTF-8"), e.getMessage());
            assertEquals(8 + 3, e.offset());
        }
    }

    @Test
    void lengthPrefixProblems() {
        for (int n = 0; n < 8; n++) {
            int len = n;
            var e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.read(new byte[len], null));
            assertTrue(e.reason().contains("shorter than"), e.getMessage());
        }
        byte[] absurd = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(200_000_000L).array();
        assertTrue(assertThrows(ModelFormatException.class, () -> SafetensorsFile.read(absurd, null)).reason().contains("limit"));
        byte[] negative = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-1L).array();
        assertTrue(assertThrows(ModelFormatException.class, () -> SafetensorsFile.read(negative, null)).reason().contains("18446744073709551615"));
        byte[] beyond = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(9).array();
        assertTrue(assertThrows(ModelFormatException.class, () -> SafetensorsFile.read(beyond, null)).reason().contains("beyond the end"));
        byte[] zero = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(0).array();
        assertThrows(ModelFormatException.class, () -> SafetensorsFile.read(zero, null));
    }

    @Test
    void emptyFileOnDisk() throws Exception {
        Path p = Files.createFile(dir.resolve("empty.safetensors"));
        var e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(p));
        assertEquals(p, e.file());
        assertEquals(0, e.offset());
    }

    /** Every prefix of a valid file (and every single-byte corruption) is rejected or parsed, never anything else. */
    @Test
    void truncationsAndByteFlips() {
        byte[] good = new StBytes().meta("format", "pt")
                .tensor("w", "F32", new long[]{2, 2}, StBytes.f32(1, 2, 3, 4))
                .tensor("b", "BF16", new long[]{2}, StBytes.seq(4, 1)).build();
        SafetensorsFile.read(good, null).close();
        for (int len = 0; len < good.length; len++) {
            byte[] cut = java.util.Arrays.copyOf(good, len);
            assertThrows(ModelFormatException.class, () -> SafetensorsFile.read(cut, null), "truncated to " + len);
        }
        int flips = 0;
        for (int i = 0; i < good.length; i++) {
            for (int v : new int[]{0x00, 0xFF, '"', '{', '9', '-'}) {
                byte[] mutated = good.clone();
                mutated[i] = (byte) v;
                try (SafetensorsFile f = SafetensorsFile.read(mutated, null)) {
                    for (SafetensorsTensor t : f.tensors()) {
                        f.data(t).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                    }
                } catch (ModelFormatException expected) {
                    flips++;
                }
            }
        }
        assertTrue(flips > good.length, "most byte flips are detected: " + flips);
    }
}
