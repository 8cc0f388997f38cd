package dev.isthmus.safetensors;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Test-only safetensors writer: well-formed files from tensor specs, or raw header + data. */
final class StBytes {
    record Spec(String name, String dtype, long[] shape, byte[] data) {
    }

    private final List<Spec> specs = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    StBytes tensor(String name, String dtype, long[] shape, byte[] data) {
        specs.add(new Spec(name, dtype, shape, data));
        return this;
    }

    StBytes meta(String k, String v) {
        metadata.put(k, v);
        return this;
    }

    /** The header JSON this writer would produce (tensors laid out back to back in order). */
    String header() {
        StringBuilder sb = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            sb.append("\"__metadata__\":{");
            boolean first = true;
            for (var e : metadata.entrySet()) {
                sb.append(first ? "" : ",").append(q(e.getKey())).append(':').append(q(e.getValue()));
                first = false;
            }
            sb.append('}');
        }
        long off = 0;
        for (Spec s : specs) {
            if (sb.length() > 1) {
                sb.append(',');
            }
            sb.append(q(s.name)).append(":{\"dtype\":").append(q(s.dtype)).append(",\"shape\":[");
            for (int i = 0; i < s.shape.length; i++) {
                sb.append(i == 0 ? "" : ",").append(s.shape[i]);
            }
            sb.append("],\"data_offsets\":[").append(off).append(',').append(off + s.data.length).append("]}");
            off += s.data.length;
        }
        return sb.append('}').toString();
    }

    byte[] build() {
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (Spec s : specs) {
            data.writeBytes(s.data);
        }
        return raw(header(), data.toByteArray());
    }

    static String q(String s) {
        return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    /** 8-byte LE length of {@code header}'s UTF-8, the header, then {@code data}. */
    static byte[] raw(String header, byte[] data) {
        return raw(header.getBytes(StandardCharsets.UTF_8), data);
    }

    static byte[] raw(byte[] header, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header).put(data);
        return b.array();
    }

    static byte[] seq(int n, int start) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (start + i);
        }
        return b;
    }

    static byte[] f32(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    static String shape(long... s) {
        return Arrays.toString(s);
    }
}
