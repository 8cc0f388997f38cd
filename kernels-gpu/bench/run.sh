#!/usr/bin/env bash
# Builds and runs the prefill GEMM microbenchmark (bench_gemm.cu) on a machine with nvcc and an NVIDIA GPU;
# not part of the Maven build. The binary links the CUDA runtime statically, so a build made elsewhere runs on
# a machine with only the driver.
#   kernels-gpu/bench/run.sh [n] [iterations]        build (if needed) into kernels-gpu/target/bench, then run
#   kernels-gpu/bench/run.sh --check                 the correctness check (check_prefill.cu) instead
#   kernels-gpu/bench/run.sh --attention [n]         the prefill attention benchmark (bench_attention.cu)
#   kernels-gpu/bench/run.sh --build-only
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../target/bench"
mkdir -p "$out"
for prog in bench_gemm check_prefill bench_attention; do
  bin="$out/$prog"
  if [ ! -x "$bin" ] || [ -n "$(find "$here" "$here/../src/main/cuda" -newer "$bin" -type f)" ]; then
    nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
    "$nvcc" -std=c++17 -O3 -Xcompiler -Wall -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
      -cudart static -o "$bin" "$here/$prog.cu"
  fi
done
case "${1:-}" in
  --build-only) exit 0 ;;
  --check) exec "$out/check_prefill" ;;
  --attention) shift; exec "$out/bench_attention" "$@" ;;
  *) exec "$out/bench_gemm" "$@" ;;
esac
