package dev.isthmus.hf;

import dev.isthmus.format.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

class HfConfigTest {
    @TempDir
    Path dir;

    static final String LLAMA_3_2_1B = """
            {
              "architectures": ["LlamaForCausalLM"],
              "attention_bias": false,
              "attention_dropout": 0.0,
              "bos_token_id": 128000,
              "eos_token_id": 128001,
              "head_dim": 64,
              "hidden_act": "silu",
              "hidden_size": 2048,
              "initializer_range": 0.02,
              "intermediate_size": 8192,
              "max_position_embeddings": 131072,
              "mlp_bias": false,
              "model_type": "llama",
              "num_attention_heads": 32,
              "num_hidden_layers": 16,
              "num_key_value_heads": 8,
              "pretraining_tp": 1,
              "rms_norm_eps": 1e-05,
              "rope_scaling": {
                "factor": 32.0,
                "high_freq_factor": 4.0,
                "low_freq_factor": 1.0,
                "original_max_position_embeddings": 8192,
                "rope_type": "llama3"
              },
              "rope_theta": 500000.0,
              "tie_word_embeddings": true,
              "torch_dtype": "bfloat16",
              "transformers_version": "4.45.0.dev0",
              "use_cache": true,
              "vocab_size": 128256
            }""";

    @Test
    void llama32OneB() throws Exception {
        Path p = dir.resolve("config.json");
        Files.writeString(p, LLAMA_3_2_1B);
        HfConfig c = HfConfig.read(p);
        assertEquals(p, c.path());
        assertEquals("llama", c.modelType());
        assertEquals(List.of("LlamaForCausalLM"), c.architectures());
        assertEquals(2048, c.hiddenSize());
        assertEquals(8192, c.intermediateSize());
        assertEquals(16, c.numHiddenLayers());
        assertEquals(32, c.numAttentionHeads());
        assertEquals(8, c.numKeyValueHeads());
        assertEquals(64, c.headDim());
        assertEquals(128256, c.vocabSize());
        assertEquals(131072, c.maxPositionEmbeddings());
        assertEquals(1e-5, c.rmsNormEps());
        assertTrue(c.tieWordEmbeddings());
        assertFalse(c.attentionBias());
        assertEquals("bfloat16", c.torchDtype().orElseThrow());
        assertEquals(OptionalInt.of(128000), c.bosTokenId());
        assertEquals(List.of(128001), c.eosTokenIds());
        assertTrue(c.slidingWindow().isEmpty());
        assertEquals(Collections.nCopies(16, HfConfig.FULL_ATTENTION), c.layerTypes());
        assertTrue(c.numExperts().isEmpty());
        assertTrue(c.textConfig().isEmpty());
        RopeParameters r = c.ropeParameters();
        assertEquals(RopeParameters.LLAMA3, r.ropeType());
        assertEquals(500000.0, r.theta());
        assertEquals(OptionalDouble.of(32.0), r.factor());
        assertEquals(OptionalDouble.of(1.0), r.lowFreqFactor());
        assertEquals(OptionalDouble.of(4.0), r.highFreqFactor());
        assertEquals(OptionalInt.of(8192), r.originalMaxPositionEmbeddings());
        assertEquals(1.0, r.partialRotaryFactor());
        assertEquals(r, c.ropeParameters(HfConfig.SLIDING_ATTENTION), "one rope for every layer type");
        assertEquals("silu", c.optString("hidden_act").orElseThrow());
        assertEquals(0.02, c.optDouble("initializer_range").getAsDouble());
        assertTrue(c.raw("rope_scaling").orElseThrow().isObject());
        assertTrue(c.raw("nope").isEmpty());
    }

    @Test
    void qwen3DenseAndMoe() {
        String dense = """
                {"architectures":["Qwen3ForCausalLM"],"attention_bias":false,"attention_dropout":0.0,
                 "bos_token_id":151643,"eos_token_id":151645,"head_dim":128,"hidden_act":"silu","hidden_size":1024,
                 "initializer_range":0.02,"intermediate_size":3072,"max_position_embeddings":40960,"max_window_layers":28,
                 "model_type":"qwen3","num_attention_heads":16,"num_hidden_layers":28,"num_key_value_heads":8,
                 "rms_norm_eps":1e-06,"rope_scaling":null,"rope_theta":1000000,"sliding_window":null,
                 "tie_word_embeddings":true,"torch_dtype":"bfloat16","transformers_version":"4.51.0","use_cache":true,
                 "use_sliding_window":false,"vocab_size":151936}""";
        HfConfig c = HfConfig.parse(dense, Path.of("qwen3/config.json"));
        assertEquals("qwen3", c.modelType());
        assertEquals(128, c.headDim());
        assertEquals(1024, c.hiddenSize());
        assertEquals(8, c.numKeyValueHeads());
        assertEquals(1e-6, c.rmsNormEps());
        assertTrue(c.slidingWindow().isEmpty());
        assertEquals(Collections.nCopies(28, HfConfig.FULL_ATTENTION), c.layerTypes());
        RopeParameters r = c.ropeParameters();
        assertEquals(RopeParameters.DEFAULT, r.ropeType());
        assertEquals(1_000_000.0, r.theta());
        assertTrue(r.factor().isEmpty());

        String moe = """
                {"architectures":["Qwen3MoeForCausalLM"],"attention_bias":false,"bos_token_id":151643,
                 "decoder_sparse_step":1,"eos_token_id":151645,"head_dim":128,"hidden_size":2048,"intermediate_size":6144,
                 "max_position_embeddings":40960,"max_window_layers":48,"mlp_only_layers":[],"model_type":"qwen3_moe",
                 "moe_intermediate_size":768,"norm_topk_prob":true,"num_attention_heads":32,"num_experts":128,
                 "num_experts_per_tok":8,"num_hidden_layers":48,"num_key_value_heads":4,"output_router_logits":false,
                 "rms_norm_eps":1e-06,"rope_scaling":null,"rope_theta":1000000.0,"router_aux_loss_coef":0.001,
                 "sliding_window":null,"tie_word_embeddings":false,"torch_dtype":"bfloat16","use_sliding_window":false,
                 "vocab_size":151936}""";
        HfConfig m = HfConfig.parse(moe, null);
        assertEquals(OptionalInt.of(128), m.numExperts());
        assertEquals(OptionalInt.of(8), m.numExpertsPerTok());
        assertEquals(OptionalInt.of(768), m.moeIntermediateSize());
        assertTrue(m.numSharedExperts().isEmpty());
        assertEquals(true, m.optBoolean("norm_topk_prob").orElseThrow());
        assertEquals(List.of(), m.intList("mlp_only_layers"));
        assertFalse(m.tieWordEmbeddings());
        assertEquals(64, 2048 / 32);
        assertEquals(128, m.headDim(), "explicit head_dim wins over hidden/heads");
    }

    static final String GEMMA_3_4B = """
            {
              "architectures": ["Gemma3ForConditionalGeneration"],
              "boi_token_index": 255999,
              "eoi_token_index": 256000,
              "eos_token_id": [1, 106],
              "image_token_index": 262144,
              "initializer_range": 0.02,
              "mm_tokens_per_image": 256,
              "model_type": "gemma3",
              "text_config": {
                "hidden_size": 2560,
                "intermediate_size": 10240,
                "model_type": "gemma3_text",
                "num_hidden_layers": 34,
                "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                "sliding_window": 1024
              },
              "torch_dtype": "bfloat16",
              "transformers_version": "4.50.0.dev0",
              "vision_config": {
                "hidden_size": 1152, "image_size": 896, "intermediate_size": 4304, "model_type": "siglip_vision_model",
                "num_attention_heads": 16, "num_hidden_layers": 27, "patch_size": 14, "vision_use_head": false
              }
            }""";

    @Test
    void gemma3MultimodalWithTextConfigDefaultsAndDualRope() {
        HfConfig c = HfConfig.parse(GEMMA_3_4B, Path.of("gemma-3-4b-it/config.json"));
        assertEquals("gemma3", c.modelType());
        assertEquals("gemma3_text", c.textModelType());
        assertEquals(List.of("Gemma3ForConditionalGeneration"), c.architectures());
        assertEquals(2560, c.hiddenSize(), "text_config wins over vision_config and top level");
        assertEquals(10240, c.intermediateSize());
        assertEquals(34, c.numHiddenLayers());
        // transformers' Gemma3TextConfig defaults for keys the published config omits
        assertEquals(8, c.numAttentionHeads());
        assertEquals(4, c.numKeyValueHeads());
        assertEquals(256, c.headDim());
        assertEquals(262208, c.vocabSize());
        assertEquals(1e-6, c.rmsNormEps());
        assertEquals(256.0, c.queryPreAttnScalar().getAsDouble());
        assertTrue(c.tieWordEmbeddings());
        assertTrue(c.finalLogitSoftcapping().isEmpty());
        assertEquals(List.of(1, 106), c.eosTokenIds());
        assertEquals("bfloat16", c.torchDtype().orElseThrow());
        assertEquals(OptionalInt.of(1024), c.slidingWindow());
        List<String> types = c.layerTypes();
        assertEquals(34, types.size());
        for (int i = 0; i < 34; i++) {
            assertEquals((i + 1) % 6 == 0 ? HfConfig.FULL_ATTENTION : HfConfig.SLIDING_ATTENTION, types.get(i), "layer " + i);
        }
        RopeParameters global = c.ropeParameters(HfConfig.FULL_ATTENTION);
        assertEquals(RopeParameters.LINEAR, global.ropeType());
        assertEquals(OptionalDouble.of(8.0), global.factor());
        assertEquals(1_000_000.0, global.theta());
        assertEquals(global, c.ropeParameters());
        RopeParameters local = c.ropeParameters(HfConfig.SLIDING_ATTENTION);
        assertEquals(RopeParameters.plain(10_000.0), local);

        HfConfig text = c.textConfig().orElseThrow();
        assertEquals("gemma3_text", text.modelType());
        assertEquals(2560, text.hiddenSize());
        assertTrue(text.textConfig().isEmpty());
        HfConfig odd = HfConfig.parse("{\"model_type\":\"m\",\"text_config\":{\"model_type\":\"t\",\"text_config\":\"x\"}}", null);
        assertTrue(odd.textConfig().orElseThrow().textConfig().isEmpty(), "one level of text_config only");
        assertTrue(text.architectures().isEmpty(), "the nested view does not fall back to the outer object");
        var e = assertThrows(ModelFormatException.class, () -> HfConfig.parse(
                "{\"model_type\":\"x\",\"text_config\":{\"hidden_size\":\"big\"}}", Path.of("c.json")).hiddenSize());
        assertTrue(e.getMessage().contains("text_config.hidden_size"), e.getMessage());
    }

    @Test
    void gemma3TransformersFiveRopeParametersPerLayerType() {
        String layerTypes = IntStream.range(0, 26)
                .mapToObj(i -> (i + 1) % 6 == 0 ? "\"full_attention\"" : "\"sliding_attention\"")
                .collect(Collectors.joining(","));
        String json = """
                {"architectures":["Gemma3ForCausalLM"],"attn_logit_softcapping":null,"bos_token_id":2,
                 "dtype":"bfloat16","eos_token_id":[1,106],"final_logit_softcapping":null,"head_dim":256,
                 "hidden_size":1152,"intermediate_size":6912,"layer_types":[%s],"max_position_embeddings":32768,
                 "model_type":"gemma3_text","num_attention_heads":4,"num_hidden_layers":26,"num_key_value_heads":1,
                 "query_pre_attn_scalar":256,"rms_norm_eps":1e-06,
                 "rope_parameters":{"full_attention":{"rope_type":"default","rope_theta":1000000.0},
                                    "sliding_attention":{"rope_type":"default","rope_theta":10000.0}},
                 "sliding_window":512,"vocab_size":262144}""".formatted(layerTypes);
        HfConfig c = HfConfig.parse(json, null);
        assertEquals(1, c.numKeyValueHeads());
        assertEquals(OptionalInt.of(512), c.slidingWindow());
        assertEquals(HfConfig.SLIDING_ATTENTION, c.layerTypes().get(0));
        assertEquals(HfConfig.FULL_ATTENTION, c.layerTypes().get(5));
        assertEquals(1_000_000.0, c.ropeParameters(HfConfig.FULL_ATTENTION).theta());
        assertEquals(10_000.0, c.ropeParameters(HfConfig.SLIDING_ATTENTION).theta());
        assertEquals(1_000_000.0, c.ropeParameters().theta());
        assertEquals("bfloat16", c.torchDtype().orElseThrow());
        var e = assertThrows(ModelFormatException.class, () -> c.ropeParameters("chunked_attention"));
        assertTrue(e.getMessage().contains("chunked_attention"), e.getMessage());
    }

    @Test
    void mistral3MultimodalNullSlidingWindow() {
        String json = """
                {"architectures":["Mistral3ForConditionalGeneration"],"image_token_index":10,"model_type":"mistral3",
                 "multimodal_projector_bias":false,"projector_hidden_act":"gelu","spatial_merge_size":2,
                 "text_config":{"attention_dropout":0.0,"head_dim":128,"hidden_act":"silu","hidden_size":5120,
                   "initializer_range":0.02,"intermediate_size":32768,"max_position_embeddings":131072,
                   "model_type":"mistral","num_attention_heads":32,"num_hidden_layers":40,"num_key_value_heads":8,
                   "rms_norm_eps":1e-05,"rope_theta":1000000000.0,"sliding_window":null,"use_cache":true,
                   "vocab_size":131072},
                 "torch_dtype":"bfloat16",
                 "vision_config":{"attention_dropout":0.0,"head_dim":64,"hidden_act":"gelu","hidden_size":1024,
                   "image_size":1540,"intermediate_size":4096,"model_type":"pixtral","num_attention_heads":16,
                   "num_channels":3,"num_hidden_layers":24,"patch_size":14,"rope_theta":10000.0},
                 "vision_feature_layer":-1}""";
        HfConfig c = HfConfig.parse(json, null);
        assertEquals("mistral3", c.modelType());
        assertEquals("mistral", c.textModelType());
        assertEquals(5120, c.hiddenSize());
        assertEquals(128, c.headDim());
        assertEquals(40, c.numHiddenLayers());
        assertTrue(c.slidingWindow().isEmpty());
        assertFalse(c.tieWordEmbeddings());
        assertEquals(Collections.nCopies(40, HfConfig.FULL_ATTENTION), c.layerTypes());
        assertEquals(1e9, c.ropeParameters().theta());
        assertEquals(OptionalInt.of(10), c.optInt("image_token_index"), "top-level keys are still reachable");
        assertTrue(c.eosTokenIds().isEmpty());
    }

    @Test
    void mistral7bSlidingWindowAllLayers() {
        HfConfig c = HfConfig.parse("""
                {"model_type":"mistral","hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":4,
                 "num_attention_heads":32,"num_key_value_heads":8,"vocab_size":32000,"max_position_embeddings":32768,
                 "rms_norm_eps":1e-05,"rope_theta":10000.0,"sliding_window":4096}""", null);
        assertEquals(128, c.headDim(), "hidden / heads when head_dim is absent");
        assertEquals(Collections.nCopies(4, HfConfig.SLIDING_ATTENTION), c.layerTypes());
        assertEquals(RopeParameters.plain(10_000.0), c.ropeParameters());
    }

    @Test
    void gptOssYarn() {
        String types = IntStream.range(0, 24).mapToObj(i -> i % 2 == 0 ? "\"sliding_attention\"" : "\"full_attention\"")
                .collect(Collectors.joining(","));
        String json = """
                {"architectures":["GptOssForCausalLM"],"attention_bias":true,"attention_dropout":0.0,
                 "eos_token_id":200002,"experts_per_token":4,"head_dim":64,"hidden_act":"silu","hidden_size":2880,
                 "initial_context_length":4096,"initializer_range":0.02,"intermediate_size":2880,
                 "layer_types":[%s],"max_position_embeddings":131072,"model_type":"gpt_oss","num_attention_heads":64,
                 "num_experts_per_tok":4,"num_hidden_layers":24,"num_key_value_heads":8,"num_local_experts":32,
                 "output_router_logits":false,"pad_token_id":199999,
                 "quantization_config":{"modules_to_not_convert":["model.layers.*.self_attn","model.embed_tokens","lm_head"],
                   "quant_method":"mxfp4"},
                 "rms_norm_eps":1e-05,
                 "rope_scaling":{"beta_fast":32.0,"beta_slow":1.0,"factor":32.0,"original_max_position_embeddings":4096,
                   "rope_type":"yarn","truncate":false},
                 "rope_theta":150000,"router_aux_loss_coef":0.9,"sliding_window":128,"swiglu_limit":7.0,
                 "tie_word_embeddings":false,"transformers_version":"4.55.0.dev0","use_cache":true,"vocab_size":201088}"""
                .formatted(types);
        HfConfig c = HfConfig.parse(json, null);
        assertEquals("gpt_oss", c.modelType());
        assertTrue(c.attentionBias());
        assertEquals(OptionalInt.of(32), c.numExperts());
        assertEquals(OptionalInt.of(4), c.numExpertsPerTok());
        assertEquals(64, c.headDim());
        assertEquals(OptionalInt.of(128), c.slidingWindow());
        assertEquals(HfConfig.SLIDING_ATTENTION, c.layerTypes().get(0));
        assertEquals(HfConfig.FULL_ATTENTION, c.layerTypes().get(23));
        assertEquals(List.of(200002), c.eosTokenIds());
        assertEquals(OptionalInt.of(199999), c.padTokenId());
        assertEquals(7.0, c.optDouble("swiglu_limit").getAsDouble());
        assertEquals("mxfp4", c.raw("quantization_config").orElseThrow().get("quant_method").textValue());
        RopeParameters r = c.ropeParameters();
        assertEquals(RopeParameters.YARN, r.ropeType());
        assertEquals(150000.0, r.theta(), "integer rope_theta is accepted as a number");
        assertEquals(OptionalDouble.of(32.0), r.factor());
        assertEquals(OptionalDouble.of(32.0), r.betaFast());
        assertEquals(OptionalDouble.of(1.0), r.betaSlow());
        assertEquals(OptionalInt.of(4096), r.originalMaxPositionEmbeddings());
        assertEquals(java.util.Optional.of(false), r.truncate());
        assertTrue(r.attentionFactor().isEmpty());
        assertEquals(r, c.ropeParameters(HfConfig.SLIDING_ATTENTION));
    }

    @Test
    void phi3LongRope() {
        List<String> shortF = new ArrayList<>();
        List<String> longF = new ArrayList<>();
        for (int i = 0; i < 48; i++) {
            shortF.add(String.valueOf(1.0 + i * 0.01));
            longF.add(String.valueOf(1.0 + i * 0.5));
        }
        String json = """
                {"_name_or_path":"Phi-3-mini-128k-instruct","architectures":["Phi3ForCausalLM"],"attention_bias":false,
                 "attention_dropout":0.0,"bos_token_id":1,"embd_pdrop":0.0,"eos_token_id":32000,"hidden_act":"silu",
                 "hidden_size":3072,"initializer_range":0.02,"intermediate_size":8192,"max_position_embeddings":131072,
                 "model_type":"phi3","num_attention_heads":32,"num_hidden_layers":32,"num_key_value_heads":32,
                 "original_max_position_embeddings":4096,"pad_token_id":32000,"resid_pdrop":0.0,"rms_norm_eps":1e-05,
                 "rope_scaling":{"long_factor":[%s],"short_factor":[%s],"type":"longrope"},
                 "rope_theta":10000.0,"sliding_window":262144,"tie_word_embeddings":false,"torch_dtype":"bfloat16",
                 "use_cache":true,"vocab_size":32064}""".formatted(String.join(",", longF), String.join(",", shortF));
        HfConfig c = HfConfig.parse(json, null);
        assertEquals(96, c.headDim());
        assertEquals(32, c.numKeyValueHeads());
        RopeParameters r = c.ropeParameters();
        assertEquals(RopeParameters.LONGROPE, r.ropeType());
        assertEquals(48, r.shortFactor().size());
        assertEquals(48, r.longFactor().size());
        assertEquals(1.0, r.shortFactor().get(0));
        assertEquals(1.0 + 47 * 0.5, r.longFactor().get(47));
        assertEquals(OptionalInt.of(4096), r.originalMaxPositionEmbeddings(), "falls back to the top-level key");
        assertEquals(10_000.0, r.theta());
        assertEquals(OptionalInt.of(262144), c.slidingWindow());
        // legacy "su" spelling
        HfConfig su = HfConfig.parse(json.replace("\"longrope\"", "\"su\""), null);
        assertEquals(RopeParameters.LONGROPE, su.ropeParameters().ropeType());
        // transformers reads LongRoPE's original context from the config first, even when the block has one
        HfConfig both = HfConfig.parse(json.replace("\"type\":\"longrope\"",
                "\"type\":\"longrope\",\"original_max_position_embeddings\":8192"), null);
        assertEquals(OptionalInt.of(4096), both.ropeParameters().originalMaxPositionEmbeddings());
    }

    @Test
    void otherRopeTypesReadTheBlocksOriginalContextFirst() {
        String json = """
                {"model_type":"qwen2","hidden_size":64,"intermediate_size":96,"num_hidden_layers":2,
                 "num_attention_heads":4,"vocab_size":320,"rms_norm_eps":1e-6,"max_position_embeddings":128,
                 "original_max_position_embeddings":64,
                 "rope_scaling":{"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":32},
                 "rope_theta":1000000.0}""";
        assertEquals(OptionalInt.of(32), HfConfig.parse(json, null).ropeParameters().originalMaxPositionEmbeddings());
    }

    @Test
    void transformers5RopeParametersWithPartialRotaryAndMoe() {
        String json = """
                {"architectures":["Glm4MoeForCausalLM"],"attention_bias":true,"dtype":"bfloat16",
                 "eos_token_id":[151329,151336,151338],"first_k_dense_replace":3,"head_dim":128,"hidden_size":4096,
                 "intermediate_size":10944,"max_position_embeddings":131072,"model_type":"glm4_moe",
                 "moe_intermediate_size":1408,"n_group":1,"n_routed_experts":128,"n_shared_experts":1,
                 "norm_topk_prob":true,"num_attention_heads":96,"num_experts_per_tok":8,"num_hidden_layers":46,
                 "num_key_value_heads":8,"pad_token_id":151329,"rms_norm_eps":1e-05,
                 "rope_parameters":{"rope_type":"default","rope_theta":1000000.0,"partial_rotary_factor":0.5},
                 "routed_scaling_factor":1.0,"tie_word_embeddings":false,"use_qk_norm":false,"vocab_size":151552}""";
        HfConfig c = HfConfig.parse(json, null);
        assertEquals(OptionalInt.of(128), c.numExperts());
        assertEquals(OptionalInt.of(1), c.numSharedExperts());
        assertEquals(OptionalInt.of(1408), c.moeIntermediateSize());
        assertEquals(OptionalInt.of(3), c.optInt("first_k_dense_replace"));
        assertEquals(List.of(151329, 151336, 151338), c.eosTokenIds());
        assertEquals("bfloat16", c.torchDtype().orElseThrow());
        RopeParameters r = c.ropeParameters();
        assertEquals(RopeParameters.DEFAULT, r.ropeType());
        assertEquals(1_000_000.0, r.theta());
        assertEquals(0.5, r.partialRotaryFactor());
        assertEquals(r, c.ropeParameters(HfConfig.SLIDING_ATTENTION));

        // Llama 3.2 in transformers-5 form: rope_theta inside rope_parameters, no top-level rope keys
        HfConfig l = HfConfig.parse(LLAMA_3_2_1B.replace("\"rope_scaling\"", "\"rope_parameters\"")
                .replace("\"rope_type\": \"llama3\"", "\"rope_type\": \"llama3\", \"rope_theta\": 500000.0")
                .replace("\"rope_theta\": 500000.0,\n  \"tie", "\"tie"), null);
        assertFalse(l.has("rope_scaling"));
        assertEquals(HfConfig.parse(LLAMA_3_2_1B, null).ropeParameters(), l.ropeParameters());
    }

    @Test
    void deepseekV3Yarn() {
        HfConfig c = HfConfig.parse("""
                {"architectures":["DeepseekV3ForCausalLM"],"model_type":"deepseek_v3","hidden_size":7168,
                 "intermediate_size":18432,"moe_intermediate_size":2048,"n_routed_experts":256,"n_shared_experts":1,
                 "num_experts_per_tok":8,"num_attention_heads":128,"num_key_value_heads":128,"num_hidden_layers":61,
                 "first_k_dense_replace":3,"kv_lora_rank":512,"q_lora_rank":1536,"qk_nope_head_dim":128,
                 "qk_rope_head_dim":64,"v_head_dim":128,"max_position_embeddings":163840,"rms_norm_eps":1e-06,
                 "rope_scaling":{"beta_fast":32,"beta_slow":1,"factor":40,"mscale":1.0,"mscale_all_dim":1.0,
                   "original_max_position_embeddings":4096,"type":"yarn"},
                 "rope_theta":10000,"vocab_size":129280,"bos_token_id":0,"eos_token_id":1,"tie_word_embeddings":false}""", null);
        assertEquals(OptionalInt.of(256), c.numExperts());
        assertEquals(OptionalInt.of(64), c.optInt("qk_rope_head_dim"));
        RopeParameters r = c.ropeParameters();
        assertEquals(RopeParameters.YARN, r.ropeType());
        assertEquals(OptionalDouble.of(40), r.factor());
        assertEquals(OptionalDouble.of(1.0), r.mscale());
        assertEquals(OptionalDouble.of(1.0), r.mscaleAllDim());
        assertEquals(OptionalDouble.of(32), r.betaFast());
    }
}
