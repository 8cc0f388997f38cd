#!/bin/sh
# On a GPU machine (after tools/pack-device.sh here, with .device carried): makes full-size random
# models with `isthmus random` and benches each on the CUDA backend, llama-bench style (pp512 and
# tg128 in one run, pp2048 in a second), one model at a time (each is deleted after its runs, so the
# disk holds one model at most).
#   sh tools/device-bench.sh [OUT_DIR] [SHAPE:TYPE ...]
# Default models: qwen3-0.6b, llama-3.2-1b and llama-3.1-8b in f16, q8_0 and q4_k. Results: one
# `bench --json` object a line in OUT_DIR/bench.jsonl (with "test" added), logs in OUT_DIR/bench.log.
# Environment: REPS (default 3), MODELS_DIR (default /tmp/isthmus-models), BENCH_ARGS (extra flags).
set -eu
out=${1:-${OUT:-/tmp/isthmus-bench}}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- qwen3-0.6b:f16 qwen3-0.6b:q8_0 qwen3-0.6b:q4_k llama-3.2-1b:f16 llama-3.2-1b:q8_0 \
  llama-3.2-1b:q4_k llama-3.1-8b:f16 llama-3.1-8b:q8_0 llama-3.1-8b:q4_k
reps=${REPS:-3}
dir=${MODELS_DIR:-/tmp/isthmus-models}
mkdir -p "$out" "$dir"
log="$out/bench.log"
isthmus() { sh .device/isthmus.sh "$@"; }
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem --format=csv >>"$log" 2>&1 || true
for spec in "$@"; do
  shape=${spec%%:*}; type=${spec#*:}
  model="$dir/$shape-$type.gguf"
  start=$(date +%s)
  isthmus random --like "$shape" --type "$type" --out "$model" --force >>"$log" 2>&1
  echo "made $model in $(( $(date +%s) - start )) s" | tee -a "$log"
  for test in "-p 512 -n 128" "-p 2048 -n 0"; do
    # shellcheck disable=SC2086
    line=$(isthmus bench "$model" $test -r "$reps" --backend cuda --json ${BENCH_ARGS:-} 2>>"$log" \
      | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))') \
      || line="{\"error\":\"bench failed: see bench.log\"}"
    printf '{"spec":"%s","test":"%s","result":%s}\n' "$spec" "$test" "$line" | tee -a "$out/bench.jsonl"
  done
  rm -f "$model"
done
