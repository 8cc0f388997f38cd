#!/usr/bin/env python3
"""Trains Isthmus's embedded demo model: a byte-level BPE tokenizer and a small Llama.

One command on a GPU machine (CUDA, torch >= 2.5, transformers 5.x, tokenizers, safetensors):

    PYTHONUNBUFFERED=1 python3 models/train/train.py --out /tmp/demo-model --pack "$OUT" --minutes 7

reads models/train/data/{corpus,heldout}.txt.gz (made by prepare_corpus.py), trains the tokenizer
and the model until the time budget (or --max-epochs) is spent, keeps the weights with the best validation loss,
measures held-out perplexity, prints samples, and writes a Hugging Face folder to --out:

    config.json  generation_config.json  model.safetensors (float16)  tokenizer.json
    tokenizer_config.json  metrics.json  samples.txt

--pack DIR additionally writes DIR/demo-model.tar.partNN (the folder as one tar, split into parts
of at most --pack-mib MiB, for transfers with a per-file limit) and copies metrics.json,
samples.txt and train.log there. Rebuild with: cat demo-model.tar.part* | tar -x

Smoke test (CPU, seconds): python3 models/train/train.py --device cpu --tiny --minutes 0.3 --out /tmp/tiny

The tokenizer/config helpers (train_tokenizer, write_tokenizer_files, llama_config) need no torch,
so they can be checked where torch is missing; torch and transformers' model code are imported
only to train.
"""
import argparse
import gzip
import io
import json
import math
import os
import random
import shutil
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

BOS, EOS, PAD = "<s>", "</s>", "<pad>"
SPECIALS = [BOS, EOS, PAD]  # ids 0, 1, 2
PROMPTS = ["Once upon a time", "The old man looked at the sea and said", "It was a dark and stormy night"]

T0 = time.time()


def log(msg):
    line = f"[{time.time() - T0:7.1f}s] {msg}"
    print(line, flush=True)
    LOG_LINES.append(line)


LOG_LINES = []


# ------------------------------------------------------------------------------------------- data

def read_docs(path):
    """Documents of a prepare_corpus.py file: paragraphs one a line, documents split by an empty line."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        text = f.read()
    return [d.strip("\n") for d in text.split("\n\n") if d.strip()]


def split_validation(docs, every=100):
    """Every `every`-th training document is kept out for validation (checkpoint choice)."""
    val = [d for i, d in enumerate(docs) if i % every == every // 2]
    train = [d for i, d in enumerate(docs) if i % every != every // 2]
    return train, val


def word_count(docs):
    return sum(len(d.split()) for d in docs)


# -------------------------------------------------------------------------------------- tokenizer

def train_tokenizer(docs, vocab_size):
    """GPT-2-style byte-level BPE (no normaliser, GPT-2 split regex, no prefix space).

    llama.cpp calls this pre-tokenizer "gpt-2", and Isthmus's converter recognises the plain
    ByteLevel pre-tokenizer as that. <s> is added at the start of every encoding (the model is
    trained with <s> before each document and </s> after it).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator((line for d in docs for line in d.split("\n")), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B",
                                                       special_tokens=[(BOS, tok.token_to_id(BOS))])
    for i, s in enumerate(SPECIALS):
        if tok.token_to_id(s) != i:
            raise RuntimeError(f"special token {s} got id {tok.token_to_id(s)}, expected {i}")
    return tok


def write_tokenizer_files(tok, out, max_len):
    """tokenizer.json and a tokenizer_config.json naming bos/eos/pad and add_bos_token."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    cfg = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS, "eos_token": EOS, "pad_token": PAD, "unk_token": None,
        "add_bos_token": True, "add_eos_token": False,
        "model_max_length": max_len, "clean_up_tokenization_spaces": False,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")


def encode_docs(tok, docs):
    """One token list: <s> doc </s> for every document, as numpy uint16."""
    import numpy as np

    bos, eos = tok.token_to_id(BOS), tok.token_to_id(EOS)
    ids = []
    for enc in tok.encode_batch(docs, add_special_tokens=False):
        ids.append(bos)
        ids.extend(enc.ids)
        ids.append(eos)
    return np.asarray(ids, dtype=np.uint16)


# ------------------------------------------------------------------------------------------ model

def model_shape(args):
    if args.tiny:
        return dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2)
    return dict(hidden_size=args.hidden, intermediate_size=args.ffn, num_hidden_layers=args.layers,
                num_attention_heads=args.heads, num_key_value_heads=args.kv_heads)


def llama_config(vocab_size, shape, max_positions):
    """The transformers LlamaConfig of the demo model (tied embeddings, RoPE theta 10000)."""
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab_size, max_position_embeddings=max_positions, rms_norm_eps=1e-5,
                       tie_word_embeddings=True, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                       bos_token_id=SPECIALS.index(BOS), eos_token_id=SPECIALS.index(EOS),
                       pad_token_id=SPECIALS.index(PAD), attention_dropout=0.0, **shape)


def count_params(cfg):
    """Parameters of a tied-embedding Llama (what the GGUF stores)."""
    d, f, L, v = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers, cfg.vocab_size
    hd = d // cfg.num_attention_heads
    attn = d * hd * (cfg.num_attention_heads * 2 + cfg.num_key_value_heads * 2)
    return v * d + L * (attn + 3 * d * f + 2 * d) + d


def add_dropout(model, p):
    """Residual-branch dropout (LlamaConfig has none): on the embedding output and on the attention
    and MLP outputs, active only in train mode."""
    import torch.nn.functional as F

    def out_hook(module, inputs, output):
        if not module.training or p == 0:
            return output
        if isinstance(output, tuple):
            return (F.dropout(output[0], p, True),) + tuple(output[1:])
        return F.dropout(output, p, True)

    model.model.embed_tokens.register_forward_hook(out_hook)
    for layer in model.model.layers:
        layer.self_attn.register_forward_hook(out_hook)
        layer.mlp.register_forward_hook(out_hook)


# --------------------------------------------------------------------------------------- training

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="folder for the Hugging Face model")
    ap.add_argument("--pack", type=Path, help="also write the folder as tar parts (+ metrics) here, e.g. $OUT")
    ap.add_argument("--pack-mib", type=float, default=15.0, help="largest tar part, MiB (default 15)")
    ap.add_argument("--minutes", type=float, default=7.0, help="training time budget (default 7)")
    ap.add_argument("--total-minutes", type=float, default=9.0,
                    help="stop training early so that the whole run ends by then (default 9)")
    ap.add_argument("--max-epochs", type=float, default=20.0,
                    help="stop after this many passes over the training tokens, if the time budget lasts that "
                         "long; the learning-rate schedule ends at whichever limit comes first (default 20)")
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    ap.add_argument("--tiny", action="store_true", help="tiny model on 3%% of the corpus, for a smoke test")
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--ffn", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=1024, help="training context (also max_position_embeddings)")
    ap.add_argument("--batch", type=int, default=64, help="sequences per step")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100, help="warm-up steps")
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--eval-every", type=float, default=20.0, help="seconds between validation checks")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (costs start-up time)")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    if args.tiny:
        args.vocab, args.seq, args.batch, args.warmup, args.eval_every = 512, 128, 8, 10, 5.0

    import numpy as np
    import torch
    import torch.nn.functional as F
    from transformers import LlamaForCausalLM

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    log(f"torch {torch.__version__}, device {device}"
        + (f" ({torch.cuda.get_device_name(device)})" if cuda else "") + f", args {vars(args)}")

    # data and tokenizer
    train_docs, val_docs = split_validation(read_docs(DATA / "corpus.txt.gz"))
    held_docs = read_docs(DATA / "heldout.txt.gz")
    if args.tiny:
        train_docs = train_docs[::33]
        val_docs, held_docs = val_docs[:2], held_docs[:2]
    log(f"corpus: {len(train_docs)} train documents ({word_count(train_docs):,} words), "
        f"{len(val_docs)} validation ({word_count(val_docs):,}), {len(held_docs)} held out ({word_count(held_docs):,})")
    tok = train_tokenizer(train_docs, args.vocab)
    vocab = tok.get_vocab_size()
    train_ids = encode_docs(tok, train_docs)
    val_ids = encode_docs(tok, val_docs)
    held_ids = encode_docs(tok, held_docs)
    log(f"tokenizer: {vocab} tokens; train {len(train_ids):,} tokens "
        f"({len(train_ids) / word_count(train_docs):.3f} a word), validation {len(val_ids):,}, held out {len(held_ids):,}")

    # model
    cfg = llama_config(vocab, model_shape(args), args.seq)
    model = LlamaForCausalLM(cfg).to(device)
    add_dropout(model, args.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f} M parameters (tied embeddings), estimated Q8_0 GGUF "
        f"{count_params(cfg) * 34 / 32 / 2**20:.1f} MiB, Q4_K ~{count_params(cfg) * 0.6 / 2**20:.1f} MiB")
    fwd = torch.compile(model) if args.compile else model

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8, **({"fused": True} if cuda else {}))

    data = torch.from_numpy(train_ids.astype(np.int64)).to(device)
    offsets = torch.arange(args.seq + 1, device=device)
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cuda)

    def loss_of(x, y):
        with autocast:
            logits = fwd(input_ids=x, use_cache=False).logits
        return F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.reshape(-1))

    @torch.no_grad()
    def evaluate(ids, max_windows=None):
        """Mean NLL per predicted token over non-overlapping windows of the token list."""
        model.eval()
        t = torch.from_numpy(ids.astype(np.int64))
        n = (len(t) - 1) // args.seq
        if max_windows:
            n = min(n, max_windows)
        total, count = 0.0, 0
        for i in range(0, n, args.batch):
            rows = range(i, min(n, i + args.batch))
            x = torch.stack([t[r * args.seq:(r + 1) * args.seq] for r in rows]).to(device)
            y = torch.stack([t[r * args.seq + 1:(r + 1) * args.seq + 1] for r in rows]).to(device)
            with autocast:
                logits = fwd(input_ids=x, use_cache=False).logits
            total += F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.reshape(-1), reduction="sum").item()
            count += y.numel()
        rest = len(t) - 1 - n * args.seq
        if rest > 1 and not max_windows:  # the tail shorter than a window
            x = t[n * args.seq:n * args.seq + rest].unsqueeze(0).to(device)
            y = t[n * args.seq + 1:n * args.seq + rest + 1].unsqueeze(0).to(device)
            with autocast:
                logits = fwd(input_ids=x, use_cache=False).logits
            total += F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.reshape(-1), reduction="sum").item()
            count += y.numel()
        model.train()
        return total / max(count, 1), count

    train_start = time.time()
    deadline = min(train_start + args.minutes * 60, T0 + args.total_minutes * 60 - (60 if not args.tiny else 5))
    budget = max(deadline - train_start, 1.0)
    max_tokens = args.max_epochs * len(train_ids)
    log(f"training for {budget:.0f} s or {args.max_epochs:g} epochs ({max_tokens:,.0f} tokens), whichever ends "
        f"first; {args.batch} x {args.seq} tokens a step")
    model.train()
    step, tokens_seen, ema = 0, 0, None
    curve, val_curve = [], []
    best = (float("inf"), None, 0)
    last_eval = time.time()
    last_log = time.time()
    while True:
        now = time.time()
        frac = min(max((now - train_start) / budget, tokens_seen / max_tokens), 1.0)
        if now >= deadline or tokens_seen >= max_tokens:
            break
        if step < args.warmup:
            lr = args.lr * (step + 1) / args.warmup
        else:
            lr = args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(data) - args.seq - 1, (args.batch,), device=device)
        chunk = data[starts.unsqueeze(1) + offsets]
        loss = loss_of(chunk[:, :-1], chunk[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens_seen += args.batch * args.seq
        if step % 25 == 0 or step <= 2:
            lv = loss.item()
            ema = lv if ema is None else 0.9 * ema + 0.1 * lv
            if time.time() - last_log >= (10 if not args.tiny else 1) or step <= 2:
                el = time.time() - train_start
                log(f"step {step:6d}  loss {lv:.4f} (ema {ema:.4f})  lr {lr:.2e}  "
                    f"{tokens_seen / max(el, 1e-9):,.0f} tok/s  epoch {tokens_seen / len(train_ids):.2f}")
                curve.append({"step": step, "seconds": round(el, 1), "tokens": tokens_seen, "loss": round(lv, 4),
                              "loss_ema": round(ema, 4)})
                last_log = time.time()
        if time.time() - last_eval >= args.eval_every:
            vl, _ = evaluate(val_ids)
            val_curve.append({"step": step, "seconds": round(time.time() - train_start, 1), "val_loss": round(vl, 4)})
            mark = ""
            if vl < best[0]:
                best = (vl, {k: v.detach().clone() for k, v in model.state_dict().items()}, step)
                mark = "  (best)"
            log(f"step {step:6d}  validation loss {vl:.4f}  ppl {math.exp(vl):.2f}{mark}")
            last_eval = time.time()
    train_seconds = time.time() - train_start
    vl, _ = evaluate(val_ids)
    val_curve.append({"step": step, "seconds": round(train_seconds, 1), "val_loss": round(vl, 4)})
    log(f"stopped after {step} steps, {tokens_seen:,} tokens ({tokens_seen / len(train_ids):.1f} epochs), "
        f"{train_seconds:.0f} s; final validation loss {vl:.4f}")
    if best[1] is not None and best[0] < vl:
        model.load_state_dict(best[1])
        log(f"restored the weights of step {best[2]} (validation loss {best[0]:.4f})")
        chosen_step, chosen_val = best[2], best[0]
    else:
        chosen_step, chosen_val = step, vl

    # held-out evaluation
    hl, htok = evaluate(held_ids)
    held_bytes = sum(len(d.encode("utf-8")) for d in held_docs)
    held_words = word_count(held_docs)
    nll = hl * htok
    log(f"held out: loss {hl:.4f} per token, perplexity {math.exp(hl):.2f} per token, "
        f"{math.exp(nll / held_words):.1f} per word, {nll / math.log(2) / held_bytes:.3f} bits per byte")

    # samples
    try:
        samples = sample_all(model, tok, device, autocast, args)
    except Exception as e:  # keep the trained model even if sampling breaks
        log(f"WARNING: sampling failed: {e!r}")
        samples = []
    for s in samples:
        log(f"sample [{s['mode']}] {s['text']!r}")

    # save
    out = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model.eval()
    model.to(torch.float16)
    model.config.use_cache = True
    try:
        model.save_pretrained(out)
    except Exception as e:  # fall back to writing the two files by hand
        log(f"WARNING: save_pretrained failed ({e!r}); writing config.json and model.safetensors directly")
        from safetensors.torch import save_file

        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items() if k != "lm_head.weight"}
        save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
        cfg.architectures = ["LlamaForCausalLM"]
        cfg.dtype = "float16"
        (out / "config.json").write_text(cfg.to_json_string(), encoding="utf-8")
    write_tokenizer_files(tok, out, args.seq)
    gen = {"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 2, "do_sample": True, "temperature": 0.8,
           "top_p": 0.95, "repetition_penalty": 1.1, "max_length": args.seq}
    (out / "generation_config.json").write_text(json.dumps(gen, indent=2) + "\n", encoding="utf-8")
    metrics = {
        "model": {"parameters": n_params, "vocab_size": vocab, "hidden_size": cfg.hidden_size,
                  "intermediate_size": cfg.intermediate_size, "layers": cfg.num_hidden_layers,
                  "heads": cfg.num_attention_heads, "kv_heads": cfg.num_key_value_heads, "context": args.seq},
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "device": torch.cuda.get_device_name(device) if cuda else "cpu",
        "torch": torch.__version__,
        "corpus": {"train_tokens": int(len(train_ids)), "train_words": word_count(train_docs),
                   "validation_tokens": int(len(val_ids)), "heldout_tokens": int(len(held_ids)),
                   "heldout_words": held_words, "heldout_bytes": held_bytes},
        "training": {"steps": step, "tokens_seen": tokens_seen, "epochs": round(tokens_seen / len(train_ids), 2),
                     "train_seconds": round(train_seconds, 1),
                     "tokens_per_second": round(tokens_seen / max(train_seconds, 1e-9)),
                     "final_train_loss_ema": ema, "chosen_step": chosen_step,
                     "chosen_validation_loss": round(chosen_val, 4), "loss_curve": curve,
                     "validation_curve": val_curve},
        "heldout": {"loss_per_token": round(hl, 4), "perplexity_per_token": round(math.exp(hl), 3),
                    "perplexity_per_word": round(math.exp(nll / held_words), 2),
                    "bits_per_byte": round(nll / math.log(2) / held_bytes, 4), "tokens": htok},
        "samples": samples,
        "wall_seconds": round(time.time() - T0, 1),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    (out / "samples.txt").write_text("\n\n".join(f"[{s['mode']}] {s['text']}" for s in samples) + "\n",
                                     encoding="utf-8")
    check_tokenizer_loads(out)
    log(f"wrote {out}: " + ", ".join(f"{p.name} {p.stat().st_size:,}" for p in sorted(out.iterdir())))
    if args.pack:
        pack(out, args.pack, args.pack_mib)
    log(f"done in {time.time() - T0:.0f} s")


def sample_all(model, tok, device, autocast, args):
    """Greedy and temperature samples (80 new tokens, no KV cache: the model is small)."""
    import torch

    model.eval()
    gen = torch.Generator(device="cpu").manual_seed(args.seed)
    results = []
    plan = [(PROMPTS[0], "greedy"), (PROMPTS[0], "t=0.8"), (PROMPTS[1], "t=0.8"), (PROMPTS[2], "t=0.8")]
    eos = tok.token_to_id(EOS)
    for prompt, mode in plan:
        ids = tok.encode(prompt).ids  # with <s>
        with torch.no_grad():
            for _ in range(80):
                x = torch.tensor([ids[-args.seq:]], device=device)
                with autocast:
                    logits = model(input_ids=x, use_cache=False).logits[0, -1].float().cpu()
                if mode == "greedy":
                    nxt = int(logits.argmax())
                else:
                    probs = torch.softmax(logits / 0.8, dim=-1)
                    sp, si = torch.sort(probs, descending=True)
                    keep = torch.cumsum(sp, 0) - sp < 0.95  # top-p 0.95
                    sp = sp * keep
                    nxt = int(si[torch.multinomial(sp / sp.sum(), 1, generator=gen)])
                if nxt == eos:
                    break
                ids.append(nxt)
        results.append({"prompt": prompt, "mode": mode, "text": tok.decode(ids, skip_special_tokens=True)})
    model.train()
    return results


def check_tokenizer_loads(out):
    """transformers' AutoTokenizer reads the folder and round-trips a sentence (a warning if not)."""
    try:
        from transformers import AutoTokenizer

        t = AutoTokenizer.from_pretrained(str(out))
        s = "Once upon a time, there was a ship."
        ids = t(s)["input_ids"]
        ok = ids[0] == t.bos_token_id and t.decode(ids, skip_special_tokens=True) == s
        log(f"AutoTokenizer: {type(t).__name__}, bos {t.bos_token_id} eos {t.eos_token_id}, round trip "
            + ("ok" if ok else f"FAILED: {ids}"))
    except Exception as e:  # a report, not a reason to lose the trained model
        log(f"WARNING: AutoTokenizer could not load {out}: {e!r}")


def pack(folder, dest, part_mib):
    """folder as one tar split into parts of at most part_mib MiB, plus its metrics/samples and the log."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.add(str(folder), arcname=folder.name)
    data = buf.getvalue()
    size = int(part_mib * 2**20)
    parts = [data[i:i + size] for i in range(0, len(data), size)]
    for i, p in enumerate(parts):
        (dest / f"{folder.name}.tar.part{i:02d}").write_bytes(p)
    for name in ("metrics.json", "samples.txt"):
        shutil.copy(folder / name, dest / name)
    log(f"packed {folder} into {len(parts)} part(s) in {dest}; rebuild: cat {folder.name}.tar.part* | tar -x")
    (dest / "train.log").write_text("\n".join(LOG_LINES) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
