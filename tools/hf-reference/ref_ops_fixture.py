"""Writes kernels-cpu's transformers fixture for the reference ops (RefHfFixtureTest).

Runs on a machine with torch and transformers (the GPU machine's image has both); CPU only.
Every value is float32, written with 9 significant digits so that Java reads back the exact bits:
one line per array, "name v0 v1 ...". Inputs are written too, so the test needs no RNG of ours.

    python3 tools/hf-reference/ref_ops_fixture.py kernels-cpu/src/test/resources/ref/hf-ops.txt
"""
import sys
from types import SimpleNamespace

import torch
import transformers
from transformers import LlamaConfig
from transformers.activations import ACT2FN
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
from transformers.models.gemma2 import modeling_gemma2
from transformers.models.gemma3.modeling_gemma3 import Gemma3RMSNorm
from transformers.models.gpt_oss import modeling_gpt_oss
from transformers.models.llama import modeling_llama
from transformers.models.llama.modeling_llama import LlamaRMSNorm, LlamaRotaryEmbedding

torch.manual_seed(1234)
lines = []


def put(name, tensor):
    values = torch.as_tensor(tensor, dtype=torch.float32).flatten().tolist()
    lines.append(name + " " + " ".join("%.9g" % v for v in values))


def config(head_dim, max_pos, rope):
    heads = 2
    return LlamaConfig(hidden_size=head_dim * heads, num_attention_heads=heads, num_key_value_heads=heads,
                       head_dim=head_dim, max_position_embeddings=max_pos, rope_parameters=dict(rope))


# ---- RoPE tables: (name, head_dim, max positions, rope_parameters, sequence lengths asked for)
phi_short = [1.0 + 0.01 * i for i in range(48)]
phi_long = [1.0 + 0.5 * i for i in range(48)]
rope_cases = [
    ("default", 64, 2048, {"rope_type": "default", "rope_theta": 10000.0}, [None]),
    # Llama's own default init ignores partial_rotary_factor; the scaled types honour it (linear with factor 1)
    ("partial", 128, 2048, {"rope_type": "linear", "rope_theta": 10000.0, "factor": 1.0,
                            "partial_rotary_factor": 0.25}, [None]),
    ("linear", 64, 2048, {"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0}, [None]),
    ("dynamic", 64, 2048, {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0}, [None, 5000]),
    ("llama3", 128, 131072, {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                              "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}, [None]),
    ("yarn_qwen", 128, 131072, {"rope_type": "yarn", "rope_theta": 1000000.0, "factor": 4.0,
                                "original_max_position_embeddings": 32768}, [None]),
    ("yarn_gptoss", 64, 131072, {"rope_type": "yarn", "rope_theta": 150000.0, "factor": 32.0, "beta_fast": 32.0,
                                 "beta_slow": 1.0, "truncate": False, "original_max_position_embeddings": 4096},
     [None]),
    ("yarn_mscale", 64, 163840, {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0, "mscale": 0.707,
                                 "mscale_all_dim": 1.0, "original_max_position_embeddings": 4096}, [None]),
    ("longrope", 96, 131072, {"rope_type": "longrope", "rope_theta": 10000.0, "short_factor": phi_short,
                              "long_factor": phi_long, "original_max_position_embeddings": 4096}, [None, 5000]),
]
for name, head_dim, max_pos, rope, seq_lens in rope_cases:
    cfg = config(head_dim, max_pos, rope)
    for seq_len in seq_lens:
        if rope["rope_type"] == "default":
            inv, scale = LlamaRotaryEmbedding.compute_default_rope_parameters(cfg)
        else:
            inv, scale = ROPE_INIT_FUNCTIONS[rope["rope_type"]](cfg, "cpu", seq_len=seq_len)
        tag = "init" if seq_len is None else str(seq_len)
        put(f"rope.{name}.{tag}.inv", inv)
        put(f"rope.{name}.{tag}.scale", [scale])
    if rope["rope_type"] in ("default", "llama3", "yarn"):
        # cos/sin and their application through the model's own rotary module and apply_rotary_pos_emb
        emb = LlamaRotaryEmbedding(cfg)
        positions = torch.tensor([[0, 1, 7, 100, 4097]])
        q = torch.randn(1, 2, 5, head_dim)  # [batch, heads, tokens, head_dim]
        x = torch.zeros(1, 5, 1)
        cos, sin = emb(x, positions)
        rot = int(head_dim * rope.get("partial_rotary_factor", 1.0))
        put(f"rope.{name}.cos", cos[0, :, : rot // 2])
        put(f"rope.{name}.sin", sin[0, :, : rot // 2])
        q_rot, q_pass = q[..., :rot], q[..., rot:]
        q_embed, _ = modeling_llama.apply_rotary_pos_emb(q_rot, q_rot, cos, sin)
        q_embed = torch.cat([q_embed, q_pass], dim=-1)
        put(f"rope.{name}.q", q.transpose(1, 2))  # [tokens][heads][head_dim]
        put(f"rope.{name}.q_embed", q_embed.transpose(1, 2))

# ---- norms
x = torch.randn(3, 16) * 3
w = torch.randn(16)
b = torch.randn(16)
put("norm.x", x)
put("norm.w", w)
put("norm.b", b)
llama = LlamaRMSNorm(16, eps=1e-6)
llama.weight.data = w.clone()
put("norm.rms", llama(x))
gemma = Gemma3RMSNorm(16, eps=1e-6)
gemma.weight.data = w.clone()
put("norm.gemma", gemma(x))
put("norm.layer", torch.nn.functional.layer_norm(x, (16,), w, b, 1e-5))
put("norm.layer_nobias", torch.nn.functional.layer_norm(x, (16,), w, None, 1e-5))

# ---- activations
a = torch.linspace(-9, 9, 73)
put("act.x", a)
put("act.silu", ACT2FN["silu"](a))
put("act.gelu", ACT2FN["gelu"](a))
put("act.gelu_tanh", ACT2FN["gelu_pytorch_tanh"](a))
gate_up = torch.randn(40) * 5
put("act.gate_up", gate_up)  # interleaved: gate at even, up at odd indices
experts = SimpleNamespace(alpha=1.702, limit=7.0)
put("act.gptoss", modeling_gpt_oss.GptOssExperts._apply_gate(experts, gate_up))
s = torch.randn(20) * 4
put("softmax.x", s)
put("softmax.y", torch.softmax(s, dim=-1))

# ---- attention: 4 query heads over 2 KV heads, 6 tokens at positions 0..5
heads, kv_heads, tokens, head_dim = 4, 2, 6, 8
q = torch.randn(1, heads, tokens, head_dim)
k = torch.randn(1, kv_heads, tokens, head_dim)
v = torch.randn(1, kv_heads, tokens, head_dim)
put("attn.q", q.transpose(1, 2))
put("attn.k", k.transpose(1, 2))
put("attn.v", v.transpose(1, 2))
idx = torch.arange(tokens)
qi, ki = idx[:, None], idx[None, :]


def additive(mask):
    return torch.where(mask, 0.0, float("-inf"))[None, None]


module = SimpleNamespace(num_key_value_groups=heads // kv_heads, training=False, head_dim=head_dim)
causal = ki <= qi
out, _ = modeling_llama.eager_attention_forward(module, q, k, v, additive(causal), scaling=head_dim ** -0.5)
put("attn.causal", out)
out, _ = modeling_llama.eager_attention_forward(module, q, k, v, additive(causal & (ki > qi - 3)),
                                                scaling=head_dim ** -0.5)
put("attn.sliding3", out)
out, _ = modeling_llama.eager_attention_forward(module, q, k, v, additive(causal & (ki // 4 == qi // 4)),
                                                scaling=head_dim ** -0.5)
put("attn.chunk4", out)
out, _ = modeling_gemma2.eager_attention_forward(module, q * 20, k, v, additive(causal), scaling=16 ** -0.5,
                                                 softcap=5.0)
put("attn.q20", (q * 20).transpose(1, 2))
put("attn.softcap5", out)
sinks = torch.randn(heads)
put("attn.sinks", sinks)
module_sinks = SimpleNamespace(num_key_value_groups=heads // kv_heads, training=False, sinks=sinks)
out, _ = modeling_gpt_oss.eager_attention_forward(module_sinks, q, k, v, additive(causal & (ki > qi - 2)),
                                                  scaling=head_dim ** -0.5)
put("attn.sinks_sliding2", out)

with open(sys.argv[1], "w") as f:
    f.write(f"# transformers {transformers.__version__}, torch {torch.__version__}; "
            "written by tools/hf-reference/ref_ops_fixture.py\n")
    f.write("\n".join(lines) + "\n")
print("wrote", len(lines), "arrays")
