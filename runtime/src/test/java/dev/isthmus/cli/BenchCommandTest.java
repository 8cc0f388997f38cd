package dev.isthmus.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The {@code bench} command's output contract, on a tiny committed fixture (the figures themselves are not asserted). */
class BenchCommandTest {
    @Test
    void jsonHasTheContractFields() throws Exception {
        Path fx = LogitsCommandTest.fixture("qwen3");
        CliTest.Result r = LogitsCommandTest.run("bench", fx.toString(), "-p", "8", "-n", "4", "-r", "2", "-t", "1",
                "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        for (String key : new String[] {"pp_tps", "tg_tps", "pp_tps_sd", "tg_tps_sd"}) {
            assertTrue(j.get(key).isNumber() && j.get(key).asDouble() >= 0, key + " in " + r.out());
        }
        assertTrue(j.get("pp_tps").asDouble() > 0 && j.get("tg_tps").asDouble() > 0, r.out());
        assertTrue(j.get("roofline_pct").isNumber() && j.get("roofline_pct").asDouble() > 0, r.out());
        assertTrue(j.get("bandwidth_gbs").asDouble() > 0, r.out());
        assertTrue(j.get("pp_tflops").isNumber() && j.get("pp_tflops").asDouble() >= 0, r.out());
        assertEquals("qwen3", j.get("model").asText());
        assertEquals("F32", j.get("type").asText());
        assertEquals(1, j.get("threads").asInt());
        assertEquals("cpu", j.get("backend").asText());
        assertTrue(r.err().contains("run 2/2"), "progress on stderr: " + r.err());
    }

    @Test
    void tableByDefault() {
        Path fx = LogitsCommandTest.fixture("llama3");
        CliTest.Result r = LogitsCommandTest.run("bench", fx.toString(), "-p", "4", "-n", "2", "-r", "1", "-t", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("| pp4 ") && r.out().contains("| tg2 ") && r.out().contains("roofline"), r.out());
    }

    @Test
    void badArgumentsAreOneLineErrors() {
        Path fx = LogitsCommandTest.fixture("llama3");
        CliTest.Result reps = LogitsCommandTest.run("bench", fx.toString(), "-r", "0");
        assertEquals(1, reps.code());
        assertTrue(reps.err().contains("-r must be at least 1"), reps.err());
        CliTest.Result kv = LogitsCommandTest.run("bench", fx.toString(), "--kv", "q4");
        assertEquals(1, kv.code());
        assertTrue(kv.err().contains("unknown KV type 'q4'"), kv.err());
        CliTest.Result ctx = LogitsCommandTest.run("bench", fx.toString(), "-p", "100", "-n", "100");
        assertEquals(1, ctx.code());
        assertTrue(ctx.err().contains("exceed the model's context"), ctx.err());
    }
}
