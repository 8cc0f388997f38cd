#!/usr/bin/env bash
# Packs what a GPU machine without Java or Maven needs to run Isthmus and its GPU tests:
#   .device/jre.tgz   a JDK 25 runtime (from ../shared/tools/device-jre.sh, or jlink here)
#   .device/lib/      the runtime's jars (module path) without the 28 MB oneDNN jar unless --with-dnnl
#   .device/test/     test classes of the modules with GPU tests (tests/ with its fixtures, ~8 MB) + the JUnit console launcher
#                     (the CUDA kernels travel inside the kernels-gpu jar when nvcc was found here)
#   .device/run-tests.sh, .device/isthmus.sh   entry points on the GPU machine
# Usage: tools/pack-device.sh [--with-dnnl]     (then carry .device to the GPU machine)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
JAVA_HOME=$(bin/find-jdk); export JAVA_HOME
out=.device
mkdir -p "$out"
if [ ! -f "$out/jre.tgz" ]; then
  # (device-jre.sh appends to .git/info/exclude, which a fresh git worktree lacks)
  if [ -x ../shared/tools/device-jre.sh ]; then mkdir -p "$(git rev-parse --git-dir 2>/dev/null || echo .git)/info"; ../shared/tools/device-jre.sh "$out"
  else
    tmp=$(mktemp -d)
    "$JAVA_HOME/bin/jlink" --add-modules java.base,jdk.incubator.vector,java.logging,java.management,jdk.management,jdk.unsupported \
      --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output "$tmp/jre"
    tar czf "$out/jre.tgz" -C "$tmp" jre; rm -rf "$tmp"
  fi
fi
./mvnw -B -q -DskipTests package -pl runtime -am
unzip -l runtime/target/lib/isthmus-kernels-gpu-*.jar 2>/dev/null | grep libisthmus_cuda.so >/dev/null \
  || echo "warning: the kernels-gpu jar has no libisthmus_cuda.so (nvcc not found?): the cuda backend will say 'no kernels'" >&2
./mvnw -B -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.13.4 -DoutputDirectory="$out" >/dev/null
rm -rf "$out/lib" "$out/test"; mkdir -p "$out/lib" "$out/test"
cp runtime/target/isthmus-runtime-*.jar "$out/lib/"
for j in runtime/target/lib/*.jar; do
  case "$(basename "$j")" in dnnl-*) [ "${1:-}" = --with-dnnl ] && cp "$j" "$out/lib/" ;; *) cp "$j" "$out/lib/" ;; esac
done
# Always (incrementally) compile the test classes: a stale target/test-classes would pack old tests.
./mvnw -B -q test-compile -pl native-bindings,kernels-gpu,runtime,tests -am
for m in native-bindings kernels-gpu runtime; do
  (cd "$m/target/test-classes" && "$JAVA_HOME/bin/jar" cf "$root/$out/test/$m-tests.jar" .)
done
# the tests module's classes stay a folder: its fixture tests read resources as files (Path.of(URI))
rm -rf "$out/test/tests-classes"; cp -r tests/target/test-classes "$out/test/tests-classes"
cat > "$out/run-tests.sh" <<'EOS'
#!/bin/sh
# On the GPU machine, from the repository root: sh .device/run-tests.sh [junit console args]
set -e
[ -x /tmp/jre/bin/java ] || tar xzf .device/jre.tgz -C /tmp
cp=$(ls .device/lib/*.jar .device/test/*.jar | tr '\n' ':').device/test/tests-classes
[ $# -gt 0 ] || set -- --scan-class-path
exec /tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector \
  -jar .device/junit-platform-console-standalone-*.jar execute --class-path "$cp" \
  --details=tree --disable-banner "$@"
EOS
cat > "$out/isthmus.sh" <<'EOS'
#!/bin/sh
# On the GPU machine, from the repository root: sh .device/isthmus.sh probe --json
set -e
[ -x /tmp/jre/bin/java ] || tar xzf .device/jre.tgz -C /tmp
exec /tmp/jre/bin/java --enable-native-access=dev.isthmus.nativebindings,dev.isthmus.memory,dev.isthmus.gguf,dev.isthmus.kernels.cpu,dev.isthmus.kernels.gpu,dev.isthmus.runtime \
  --add-modules jdk.incubator.vector -Djava.util.logging.SimpleFormatter.format="isthmus: %5$s%6$s%n" \
  ${ISTHMUS_JAVA_OPTS:-} --module-path .device/lib -m dev.isthmus.runtime/dev.isthmus.cli.Main "$@"
EOS
du -sh "$out"
