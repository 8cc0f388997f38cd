package dev.isthmus.safetensors;

import dev.isthmus.format.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class SafetensorsModelTest {
    @TempDir
    Path dir;

    private void shards() throws Exception {
        Files.write(dir.resolve("model-00001-of-00002.safetensors"), new StBytes()
                .tensor("embed", "F32", new long[]{2, 2}, StBytes.f32(1, 2, 3, 4))
                .tensor("l0", "U8", new long[]{3}, StBytes.seq(3, 5)).build());
        Files.write(dir.resolve("model-00002-of-00002.safetensors"), new StBytes()
                .tensor("l1", "I16", new long[]{2}, StBytes.seq(4, 20))
                .tensor("head", "U8", new long[]{1}, new byte[]{9}).build());
    }

    private void index(String weightMap) throws Exception {
        Files.writeString(dir.resolve("model.safetensors.index.json"),
                "{\"metadata\": {\"total_size\": 35, \"format\": \"pt\"}, \"weight_map\": {" + weightMap + "}}");
    }

    private static final String GOOD_MAP = "\"embed\": \"model-00001-of-00002.safetensors\","
            + "\"l0\": \"model-00001-of-00002.safetensors\","
            + "\"l1\": \"model-00002-of-00002.safetensors\","
            + "\"head\": \"model-00002-of-00002.safetensors\"";

    @Test
    void shardedFolderWithIndex() throws Exception {
        shards();
        index(GOOD_MAP);
        for (Path open : List.of(dir, dir.resolve("model.safetensors.index.json"))) {
            try (SafetensorsModel m = SafetensorsModel.open(open)) {
                assertEquals(2, m.shards().size());
                assertEquals("35", m.metadata().get("total_size"));
                assertEquals("pt", m.metadata().get("format"));
                assertEquals(List.of("embed", "l0", "l1", "head"), m.tensors().stream().map(SafetensorsTensor::name).toList());
                assertArrayEquals(new long[]{2, 2}, m.tensor("embed").orElseThrow().shape());
                assertEquals(9, m.data("head").get(ValueLayout.JAVA_BYTE, 0));
                assertArrayEquals(StBytes.seq(4, 20), m.data("l1").toArray(ValueLayout.JAVA_BYTE));
                assertEquals(m.shards().get(1), m.shardOf("l1").orElseThrow());
                assertTrue(m.tensor("nope").isEmpty());
                assertThrows(IllegalArgumentException.class, () -> m.data("nope"));
                var seg = m.data("l0");
                m.close();
                assertThrows(IllegalStateException.class, () -> seg.get(ValueLayout.JAVA_BYTE, 0));
                assertThrows(IllegalStateException.class, () -> m.data("l0"));
            }
        }
    }

    @Test
    void equivalentShardNamesMapTheFileOnce() throws Exception {
        shards();
        index(GOOD_MAP.replace("\"l1\": \"model-", "\"l1\": \"./model-"));
        try (SafetensorsModel m = SafetensorsModel.open(dir)) {
            assertEquals(2, m.shards().size());
            assertSame(m.shardOf("l1").orElseThrow(), m.shardOf("head").orElseThrow());
        }
    }

    @Test
    void singleFileAndOnlyFileInFolder() throws Exception {
        Files.write(dir.resolve("weights.safetensors"), new StBytes().meta("k", "v")
                .tensor("a", "U8", new long[]{2}, StBytes.seq(2, 1)).build());
        try (SafetensorsModel m = SafetensorsModel.open(dir)) {
            assertEquals(dir.resolve("weights.safetensors"), m.source());
            assertEquals("v", m.metadata().get("k"));
            assertEquals(2, m.data("a").get(ValueLayout.JAVA_BYTE, 1));
        }
        Files.write(dir.resolve("model.safetensors"), new StBytes()
                .tensor("b", "U8", new long[]{1}, new byte[]{3}).build());
        try (SafetensorsModel m = SafetensorsModel.open(dir)) { // model.safetensors wins over other files
            assertEquals(List.of("b"), m.tensors().stream().map(SafetensorsTensor::name).toList());
        }
        try (SafetensorsModel m = SafetensorsModel.open(dir.resolve("weights.safetensors"))) {
            assertTrue(m.tensor("a").isPresent());
        }
    }

    @Test
    void ambiguousOrEmptyFolder() throws Exception {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsModel.open(dir));
        assertTrue(e.reason().contains("no safetensors"), e.getMessage());
        shards();
        e = assertThrows(ModelFormatException.class, () -> SafetensorsModel.open(dir));
        assertTrue(e.reason().contains("several"), e.getMessage());
    }

    @Test
    void tensorMissingFromNamedShard() throws Exception {
        shards();
        index(GOOD_MAP + ", \"extra\": \"model-00001-of-00002.safetensors\"");
        var e = assertThrows(ModelFormatException.class, () -> SafetensorsModel.open(dir));
        assertTrue(e.reason().contains("'extra'"), e.getMessage());
        assertEquals(dir.resolve("model.safetensors.index.json"), e.file());
        // tensor present, but in the other shard
        index("\"embed\": \"model-00002-of-00002.safetensors\"");
        assertThrows(ModelFormatException.class, () -> SafetensorsModel.open(dir));
    }

    @Test
    void missingShard() throws Exception {
        shards();
        index(GOOD_MAP + ", \"x\": \"model-00003-of-00002.safetensors\"");
        var e = assertThrows(ModelFormatException.class, () -> SafetensorsModel.open(dir));
        assertTrue(e.reason().contains("does not exist"), e.getMessage());
        assertTrue(e.reason().contains("model-00003-of-00002.safetensors"), e.getMessage());
    }

    @Test
    void shardNamesCannotEscapeTheFolder() throws Exception {
        Path inner = Files.createDirectories(dir.resolve("inner"));
        Files.write(dir.resolve("outside.safetensors"), new StBytes()
                .tensor("a", "U8", new long[]{1}, new byte[]{1}).build());
        for (String bad : List.of("../outside.safetensors", dir.resolve("outside.safetensors").toString(),
                "sub/../../outside.safetensors", "", "..\\\\outside.safetensors")) {
            Files.writeString(inner.resolve("model.safetensors.index.json"),
                    "{\"weight_map\": {\"a\": " + StBytes.q(bad) + "}}");
            var e = assertThrows(ModelFormatException.class, () -> SafetensorsModel.open(inner), bad);
            assertTrue(e.reason().contains("shard name"), e.getMessage());
        }
    }

    @Test
    void malformedIndex() throws Exception {
        shards();
        for (String bad : List.of("not json", "[1,2]", "{\"metadata\": {}}", "{\"weight_map\": []}",
                "{\"weight_map\": {\"a\": 3}}", "{\"weight_map\": {}} {}", "{\"weight_map\": {\"a\": \"x\", \"a\": \"y\"}}",
                "{\"metadata\": 5, \"weight_map\": {}}")) {
            Files.writeString(dir.resolve("model.safetensors.index.json"), bad);
            assertThrows(ModelFormatException.class, () -> SafetensorsModel.open(dir), bad);
        }
    }

    @Test
    void corruptShardReported() throws Exception {
        shards();
        index(GOOD_MAP);
        Files.write(dir.resolve("model-00002-of-00002.safetensors"), new byte[]{1, 2, 3});
        var e = assertThrows(ModelFormatException.class, () -> SafetensorsModel.open(dir));
        assertEquals(dir.resolve("model-00002-of-00002.safetensors").toAbsolutePath().normalize(),
                e.file().toAbsolutePath().normalize());
    }
}
