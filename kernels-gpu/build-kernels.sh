#!/usr/bin/env bash
# Compiles src/main/cuda/*.cu into one shared library, libisthmus_cuda.so, for sm_80 and sm_90 with
# PTX for compute_90 (newer GPUs JIT it), linked against the shared CUDA runtime (the same
# libcudart the Java side loads). Writes it, with a .sha256 file ("<sha256> <size>") that the
# loader checks at extraction, to OUT/isthmus-native/linux-x86_64/. Called by Maven (profile
# "cuda-kernels" in pom.xml) in generate-resources.
#   build-kernels.sh OUT_DIR
# Without nvcc (on the PATH, in $CUDA_HOME/bin or /usr/local/cuda/bin) it says so and exits 0: the
# jar then has no kernels and the backend reports itself unavailable. -Disthmus.nvcc.skip=true (Maven)
# skips the step. The library is rebuilt only when a source is newer than it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build-kernels.sh OUT_DIR}
dest="$out/isthmus-native/linux-x86_64"
lib="$dest/libisthmus_cuda.so"
nvcc=$(command -v nvcc || true)
for c in "${CUDA_HOME:-}/bin/nvcc" /usr/local/cuda/bin/nvcc; do
  [ -n "$nvcc" ] && break
  [ -x "$c" ] && nvcc=$c
done
if [ -z "$nvcc" ]; then
  echo "[isthmus] nvcc not found: building kernels-gpu without CUDA kernels (the cuda backend will report 'no kernels')"
  rm -rf "$dest"
  exit 0
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "[isthmus] CUDA kernels are built for linux-x86_64 only, not $(uname -s)-$(uname -m)"; rm -rf "$dest"; exit 0 ;;
esac
src="$here/src/main/cuda"
mkdir -p "$dest"
if [ -f "$lib" ] && [ -f "$lib.sha256" ] && [ -z "$(find "$src" -newer "$lib" -type f)" ]; then
  echo "[isthmus] $lib is up to date"
  exit 0
fi
echo "[isthmus] compiling CUDA kernels with $nvcc ($("$nvcc" --version | tail -1))"
start=$(date +%s)
tmp="$lib.tmp.$$"
"$nvcc" -std=c++17 -O3 -shared -Xcompiler -fPIC,-Wall,-Wextra -Werror all-warnings --threads 0 \
  -gencode arch=compute_80,code=sm_80 \
  -gencode arch=compute_90,code=sm_90 \
  -gencode arch=compute_90,code=compute_90 \
  -cudart shared -Xlinker -soname=libisthmus_cuda.so \
  -o "$tmp" "$src"/*.cu
mv "$tmp" "$lib"
sum=$(sha256sum "$lib" | cut -d' ' -f1)
size=$(stat -c %s "$lib")
echo "$sum $size" > "$lib.sha256"
echo "[isthmus] built $lib ($size bytes, sha256 $sum) in $(( $(date +%s) - start )) s"
