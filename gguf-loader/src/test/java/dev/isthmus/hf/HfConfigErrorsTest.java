package dev.isthmus.hf;

import dev.isthmus.format.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

class HfConfigErrorsTest {
    @TempDir
    Path dir;

    private static final Path NAME = Path.of("models/x/config.json");

    private static ModelFormatException fails(String json, Function<HfConfig, Object> getter) {
        return assertThrows(ModelFormatException.class, () -> getter.apply(HfConfig.parse(json, NAME)));
    }

    @Test
    void malformedJson() throws Exception {
        for (String bad : new String[]{"", "{", "{\"a\":1,}", "[1]", "\"str\"", "{\"a\":1}{", "{\"a\":1,\"a\":2}", "nul"}) {
            var e = assertThrows(ModelFormatException.class, () -> HfConfig.parse(bad, NAME), bad);
            assertEquals(NAME, e.file());
        }
        Path p = dir.resolve("config.json");
        Files.writeString(p, "{\"hidden_size\": 12,,}");
        var e = assertThrows(ModelFormatException.class, () -> HfConfig.read(p));
        assertEquals(p, e.file());
        assertTrue(e.getMessage().contains("JSON"), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "{\"hidden_size\": \"4096\"}|hidden_size",
            "{\"hidden_size\": 4096.5}|hidden_size",
            "{\"hidden_size\": 99999999999}|hidden_size",
            "{\"hidden_size\": true}|hidden_size",
            "{\"hidden_size\": [4096]}|hidden_size"})
    void wrongTypeNamesFileAndKey(String json, String key) {
        var e = fails(json, HfConfig::hiddenSize);
        assertEquals(NAME, e.file());
        assertTrue(e.getMessage().contains("'" + key + "'"), e.getMessage());
        assertTrue(e.getMessage().contains(NAME.toString()), e.getMessage());
    }

    @Test
    void otherWrongTypesAndMissingKeys() {
        assertTrue(fails("{}", HfConfig::hiddenSize).getMessage().contains("'hidden_size' is missing"));
        assertTrue(fails("{}", HfConfig::modelType).getMessage().contains("model_type"));
        assertTrue(fails("{\"rms_norm_eps\": \"1e-5\"}", HfConfig::rmsNormEps).getMessage().contains("rms_norm_eps"));
        assertTrue(fails("{\"tie_word_embeddings\": 1}", HfConfig::tieWordEmbeddings).getMessage().contains("tie_word_embeddings"));
        assertTrue(fails("{\"eos_token_id\": [1, \"2\"]}", HfConfig::eosTokenIds).getMessage().contains("eos_token_id[1]"));
        assertTrue(fails("{\"architectures\": \"Llama\"}", HfConfig::architectures).getMessage().contains("architectures"));
        assertTrue(fails("{\"sliding_window\": \"4k\"}", HfConfig::slidingWindow).getMessage().contains("sliding_window"));
        assertTrue(fails("{\"num_hidden_layers\": 2, \"layer_types\": [\"full_attention\"]}", HfConfig::layerTypes)
                .getMessage().contains("num_hidden_layers is 2"));
        assertTrue(fails("{\"num_hidden_layers\": 1, \"layer_types\": [1]}", HfConfig::layerTypes)
                .getMessage().contains("layer_types[0]"));
        assertTrue(fails("{\"hidden_size\": 100, \"num_attention_heads\": 3}", HfConfig::headDim)
                .getMessage().contains("multiple"));
        assertThrows(ModelFormatException.class, () -> HfConfig.parse("{\"text_config\": 5}", NAME));
    }

    @Test
    void ropeErrors() {
        assertTrue(fails("{\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}}", HfConfig::ropeParameters)
                .getMessage().contains("low_freq_factor"));
        assertTrue(fails("{\"rope_scaling\": {\"type\": \"linear\"}}", HfConfig::ropeParameters)
                .getMessage().contains("'factor'"));
        assertTrue(fails("{\"rope_scaling\": {\"type\": \"longrope\", \"short_factor\": [1.0]}}", HfConfig::ropeParameters)
                .getMessage().contains("long_factor"));
        assertTrue(fails("{\"rope_scaling\": {\"type\": \"yarn\", \"factor\": \"4\"}}", HfConfig::ropeParameters)
                .getMessage().contains("rope_scaling.factor"));
        assertTrue(fails("{\"rope_scaling\": [1]}", HfConfig::ropeParameters).getMessage().contains("rope_scaling"));
        assertTrue(fails("{\"rope_parameters\": 3}", HfConfig::ropeParameters).getMessage().contains("rope_parameters"));
        assertTrue(fails("{\"rope_theta\": -1}", HfConfig::ropeParameters).getMessage().contains("not positive"));
        assertTrue(fails("{\"partial_rotary_factor\": 2}", HfConfig::ropeParameters).getMessage().contains("partial_rotary_factor"));
        assertTrue(fails("{\"rope_parameters\": {\"full_attention\": {\"rope_theta\": \"x\"}}}", HfConfig::ropeParameters)
                .getMessage().contains("rope_parameters.full_attention.rope_theta"));
        assertTrue(fails("{\"text_config\": {\"rope_scaling\": {\"rope_type\": \"yarn\"}}}", HfConfig::ropeParameters)
                .getMessage().contains("text_config.rope_scaling"));
    }
}
