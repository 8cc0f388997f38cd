"""A stand-in for transformers, for smoke-testing train.py where transformers cannot run.

NOT the real library. Debian ships torch 1.13, which transformers 5 does not accept; this module
gives train.py the few names it uses (LlamaConfig, LlamaForCausalLM with .model.embed_tokens,
.model.layers[i].self_attn/.mlp and save_pretrained, AutoTokenizer) as a plain-torch Llama with
HF's layout, tensor names, RoPE convention (rotate-half) and tied embeddings. smoke.sh trains a
tiny model with it, converts the result with `isthmus convert`, and checks that Isthmus's logits
equal this module's. The real run uses transformers.
"""
import json, math, os
import torch
import torch.nn as nn
import torch.nn.functional as F


class LlamaConfig:
    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.head_dim = self.hidden_size // self.num_attention_heads
        self.use_cache = True

    def to_dict(self):
        return dict(self.__dict__, model_type="llama")


class Out:
    def __init__(self, logits):
        self.logits = logits


class Attn(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        hd = c.head_dim
        self.q_proj = nn.Linear(c.hidden_size, c.num_attention_heads * hd, bias=False)
        self.k_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * hd, bias=False)
        self.v_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * hd, bias=False)
        self.o_proj = nn.Linear(c.num_attention_heads * hd, c.hidden_size, bias=False)

    def forward(self, x):
        B, T, _ = x.shape
        c, hd = self.c, self.c.head_dim
        q = self.q_proj(x).view(B, T, -1, hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, -1, hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, -1, hd).transpose(1, 2)
        rep = c.num_attention_heads // c.num_key_value_heads
        k = k.repeat_interleave(rep, 1)
        v = v.repeat_interleave(rep, 1)
        pos = torch.arange(T, device=x.device, dtype=torch.float32)
        inv = 1.0 / (10000 ** (torch.arange(0, hd, 2, device=x.device, dtype=torch.float32) / hd))
        ang = torch.outer(pos, inv)
        cos, sin = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()
        def rot(t):
            t1, t2 = t[..., :hd // 2], t[..., hd // 2:]
            return t * cos + torch.cat([-t2, t1], -1) * sin
        q, k = rot(q), rot(k)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = att.masked_fill(torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1), float('-inf'))
        y = att.softmax(-1) @ v
        return self.o_proj(y.transpose(1, 2).reshape(B, T, -1)), None


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class RMS(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMS(c.hidden_size, c.rms_norm_eps)
        self.self_attn = Attn(c)
        self.post_attention_layernorm = RMS(c.hidden_size, c.rms_norm_eps)
        self.mlp = Mlp(c)

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))[0]
        return x + self.mlp(self.post_attention_layernorm(x))


class Inner(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList([Layer(c) for _ in range(c.num_hidden_layers)])
        self.norm = RMS(c.hidden_size, c.rms_norm_eps)


class LlamaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.model = Inner(c)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        self.lm_head.weight = self.model.embed_tokens.weight
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, input_ids, use_cache=False):
        x = self.model.embed_tokens(input_ids)
        for l in self.model.layers:
            x = l(x)
        return Out(self.lm_head(self.model.norm(x)))

    def save_pretrained(self, out):
        from safetensors.torch import save_file
        sd = {k: v.contiguous() for k, v in self.state_dict().items() if k != "lm_head.weight"}
        save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(self.config.to_dict(), f, indent=2)


class AutoTokenizer:
    @staticmethod
    def from_pretrained(path):
        raise RuntimeError("shim has no AutoTokenizer")
