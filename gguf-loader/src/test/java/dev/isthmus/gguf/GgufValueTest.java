package dev.isthmus.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrowsExactly;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** GgufValue factories, accessors, equality and the type registry's ids. */
class GgufValueTest {
    @Test
    void valueTypeIds() {
        int i = 0;
        for (GgufValueType t : GgufValueType.values()) {
            assertEquals(i++, t.id());
            assertEquals(t, GgufValueType.byId(t.id()).orElseThrow());
        }
        assertTrue(GgufValueType.byId(13).isEmpty());
        assertTrue(GgufValueType.byId(-1).isEmpty());
        assertEquals(12, GgufValueType.FLOAT64.id());
        assertEquals(10, GgufValueType.UINT64.id());
    }

    @Test
    void scalars() {
        assertEquals(255, GgufValue.uint8(255).asLong());
        assertEquals(-128, GgufValue.int8(-128).asLong());
        assertEquals(0xFFFF_FFFFL, GgufValue.uint32(0xFFFF_FFFFL).asLong());
        assertEquals(-1L, GgufValue.uint64(-1L).asLong(), "UINT64 keeps its bits");
        assertEquals(18446744073709551615.0, GgufValue.uint64(-1L).asDouble());
        assertEquals("18446744073709551615", GgufValue.uint64(-1L).toString());
        assertEquals(1.5, GgufValue.float32(1.5f).asDouble());
        assertEquals(7.0, GgufValue.int32(7).asDouble());
        assertTrue(GgufValue.bool(true).asBoolean());
        assertEquals(1, GgufValue.bool(true).asLong());
        assertEquals("x", GgufValue.string("x").asString());
        assertThrowsExactly(IllegalArgumentException.class, () -> GgufValue.uint8(256));
        assertThrowsExactly(IllegalArgumentException.class, () -> GgufValue.uint32(-1));
        assertThrowsExactly(IllegalArgumentException.class, () -> GgufValue.int16(40000));
        assertThrowsExactly(IllegalArgumentException.class, () -> GgufValue.integer(GgufValueType.STRING, 1));
        assertThrowsExactly(IllegalStateException.class, () -> GgufValue.string("x").asLong());
        assertThrowsExactly(IllegalStateException.class, () -> GgufValue.float32(1).asLong());
        assertThrowsExactly(IllegalStateException.class, () -> GgufValue.uint8(1).asString());
        assertThrowsExactly(IllegalStateException.class, () -> GgufValue.uint8(1).asBoolean());
        assertThrowsExactly(IllegalStateException.class, () -> GgufValue.uint8(1).length());
    }

    @Test
    void equalityIsByTypeAndBits() {
        assertEquals(GgufValue.uint32(5), GgufValue.uint32(5));
        assertEquals(GgufValue.uint32(5).hashCode(), GgufValue.uint32(5).hashCode());
        assertNotEquals(GgufValue.uint32(5), GgufValue.int32(5));
        assertEquals(GgufValue.float32(Float.NaN), GgufValue.float32(Float.NaN));
        assertNotEquals(GgufValue.float64(0.0), GgufValue.float64(-0.0));
        assertEquals(GgufValue.int32Array(1, 2), GgufValue.array(GgufValueType.INT32, List.of(GgufValue.int32(1), GgufValue.int32(2))));
        assertEquals(GgufValue.int32Array(1, 2).hashCode(),
                GgufValue.array(GgufValueType.INT32, List.of(GgufValue.int32(1), GgufValue.int32(2))).hashCode());
        assertNotEquals(GgufValue.int32Array(1, 2), GgufValue.uint32Array(1, 2));
        assertEquals(GgufValue.stringArray(List.of("a")), GgufValue.array(GgufValueType.STRING, List.of(GgufValue.string("a"))));
        assertThrowsExactly(IllegalArgumentException.class,
                () -> GgufValue.array(GgufValueType.INT32, List.of(GgufValue.uint32(1))));
    }

    @Test
    void arrays() {
        GgufValue a = GgufValue.array(GgufValueType.UINT16, List.of(GgufValue.uint16(65535), GgufValue.uint16(1)));
        assertEquals(GgufValueType.UINT16, a.elementType());
        assertEquals(2, a.length());
        assertEquals(GgufValue.uint16(65535), a.get(0));
        assertArrayEquals(new long[] {65535, 1}, a.longs());
        assertArrayEquals(new int[] {65535, 1}, a.ints());
        assertArrayEquals(new float[] {65535f, 1f}, a.floats());
        assertThrowsExactly(IndexOutOfBoundsException.class, () -> a.get(2));
        assertThrowsExactly(IllegalStateException.class, a::strings);
        GgufValue f = GgufValue.float32Array(0.25f, -2f);
        assertArrayEquals(new float[] {0.25f, -2f}, f.floats());
        assertArrayEquals(new double[] {0.25, -2}, f.doubles());
        assertThrowsExactly(IllegalStateException.class, f::longs);
        assertEquals(List.of(0.25, -2.0), f.toJava());
        GgufValue s = GgufValue.stringArray(List.of("x", "yz"));
        assertEquals(List.of("x", "yz"), s.strings());
        assertEquals(GgufValue.string("yz"), s.get(1));
        assertArrayEquals(new boolean[] {true, false}, GgufValue.boolArray(true, false).booleans());
        GgufValue nested = GgufValue.array(GgufValueType.ARRAY, List.of(GgufValue.int64Array(5), s));
        assertEquals(List.of(List.of(5L), List.of("x", "yz")), nested.toJava());
        assertEquals(s, nested.get(1));
        assertEquals(2, nested.elements().size());
        assertFalse(GgufValue.uint8(1).isArray());
        assertEquals(0xFFFF_FFFFL, GgufValue.uint32Array(-1).longs()[0]);
        assertThrowsExactly(IllegalStateException.class, () -> GgufValue.array(GgufValueType.UINT64,
                List.of(GgufValue.uint64(-1))).ints());
    }

    @Test
    void toJavaOfScalars() {
        assertEquals(5L, GgufValue.uint8(5).toJava());
        assertEquals(-1L, GgufValue.uint64(-1).toJava());
        assertEquals(true, GgufValue.bool(true).toJava());
        assertEquals(1.5, GgufValue.float64(1.5).toJava());
        assertEquals("s", GgufValue.string("s").toJava());
    }
}
