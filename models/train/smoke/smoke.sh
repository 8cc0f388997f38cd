#!/bin/sh
# CPU smoke test of models/train/train.py without transformers (see transformers/__init__.py here):
# trains a tiny model for ~20 s, converts it with `isthmus convert`, and compares Isthmus's logits
# with the stand-in model's. Needs python3 with torch (Debian's python3-torch is enough), numpy,
# tokenizers and safetensors. Run from the repository root: sh models/train/smoke/smoke.sh
set -eu
PY=${PYTHON:-python3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
HERE=models/train/smoke
PYTHONPATH=$HERE "$PY" models/train/train.py --device cpu --tiny --minutes 0.3 --out "$TMP/tiny" --pack "$TMP/pack"
test -f "$TMP/pack/tiny.tar.part00" && test -f "$TMP/pack/metrics.json"
./isthmus convert "$TMP/tiny" --out "$TMP/tiny.gguf" --type f32
./isthmus inspect "$TMP/tiny.gguf" | grep -q "pre: gpt-2"
for src in "$TMP/tiny" "$TMP/tiny.gguf"; do
  ./isthmus logits "$src" --tokens 0,100,200,300,400 --out "$TMP/isthmus.f32" >/dev/null
  PYTHONPATH=$HERE "$PY" - "$TMP/tiny" "$TMP/isthmus.f32" <<'PYEOF'
import json, sys
import numpy as np, torch
from safetensors.torch import load_file
import transformers as T
folder, logits_file = sys.argv[1], sys.argv[2]
cfg = json.load(open(folder + "/config.json"))
c = T.LlamaConfig(**{k: v for k, v in cfg.items() if k not in ("model_type", "head_dim", "use_cache")})
m = T.LlamaForCausalLM(c)
sd = {k: v.float() for k, v in load_file(folder + "/model.safetensors").items()}
sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
m.load_state_dict(sd)
m.eval()
with torch.no_grad():
    ref = m(input_ids=torch.tensor([[0, 100, 200, 300, 400]])).logits[0].numpy()
got = np.fromfile(logits_file, dtype="<f4").reshape(ref.shape)
err = float(np.abs(ref - got).max())
print(f"max |logit difference| {err:.2e}")
sys.exit(0 if err < 1e-3 else 1)
PYEOF
done
echo "smoke test passed"
