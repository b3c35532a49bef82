#!/usr/bin/env bash
# Builds the self-contained bench bundle: a folder that runs `bench` on a Linux x86-64 machine without Java
# (issue 10: the scaling table on a 16-core machine). Contents:
#   jre/        a jlink'd Java runtime of the default JDK 17 (java.base, jdk.incubator.vector, java.logging,
#               java.management, jdk.unsupported, java.xml, java.sql, java.naming; --compress=2, libjvm stripped)
#   lib/        the model-runtime, bench and CLI jars and what they need (picocli, Jackson, SLF4J API);
#               no Flink, Kafka or JMH jars (dev.qsparse.cli.BenchMain never loads them)
#   onnx/       the ONNX Runtime peer (bench's onnx profile) and onnxruntime 1.22.0 cut to its linux-x64 natives
#   bench/, training/   torch_decode.py (PyTorch, pinned) and export_onnx.py + qsparse/ (the ONNX export)
#   data/       the embed events and the demo model's tokenizer (which the seed-shape model borrows)
#   run.sh      bench --threads N for N in 1 2 4 8 16, all tables into one folder (see its header)
# The bundle must stay under 50 MB (checked at the end); --with-demo adds models/qsparse-demo (12 MB of
# weights, over that budget), --no-onnx leaves ONNX Runtime out (~8 MB less).
#
#   bench/bundle.sh [--out DIR] [--no-onnx] [--with-demo] [--no-build]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/bench/target/qsparse-bench-bundle"
onnx=1 demo=0 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift ;;
    --no-onnx) onnx=0 ;;
    --with-demo) demo=1 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "bundle.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
limit=$((50 * 1000 * 1000))
jdk="${BUNDLE_JDK:-/usr/lib/jvm/java-17-openjdk-amd64}"
[ -x "$jdk/bin/jlink" ] || jdk="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
[ -x "$jdk/bin/jlink" ] || { echo "bundle.sh: no jlink (set BUNDLE_JDK to a JDK 17 home)" >&2; exit 1; }

cd "$root"
if [ "$build" = 1 ]; then
  echo "bundle.sh: building cli and bench ..." >&2
  mvn -B -ntp -q -pl cli -am package -DskipTests
  if [ "$onnx" = 1 ]; then
    mvn -B -ntp -q -Ponnx -pl bench -am package -DskipTests
  fi
fi

rm -rf "$out"
mkdir -p "$out/lib" "$out/bench" "$out/training/qsparse" "$out/data"
echo "bundle.sh: jlink ($("$jdk/bin/java" -version 2>&1 | head -1)) ..." >&2
"$jdk/bin/jlink" --add-modules java.base,jdk.incubator.vector,java.logging,java.management,jdk.unsupported,java.xml,java.sql,java.naming \
  --compress=2 --strip-debug --no-header-files --no-man-pages --output "$out/jre" 2>&1 | { grep -v 'incubator modules' || true; } >&2
# Debian's libjvm.so keeps its symbol table (24 MB); HotSpot does not need it to run.
if command -v strip >/dev/null 2>&1; then strip --strip-unneeded "$out/jre/lib/server/libjvm.so"; fi

cp cli/target/qsparse-cli/lib/qsparse-cli.jar cli/target/qsparse-cli/lib/picocli-*.jar bench/target/bench-*-SNAPSHOT.jar "$out/lib/"
for jar in bench/target/lib/*.jar; do
  case "$(basename "$jar")" in
    jmh-*|jopt-simple-*|commons-math3-*|onnxruntime-*) ;;  # JMH suites and ONNX Runtime are not on this class path
    *) cp "$jar" "$out/lib/" ;;
  esac
done

if [ "$onnx" = 1 ]; then
  mkdir -p "$out/onnx"
  cp bench/target/onnx/bench-*-onnx.jar "$out/onnx/"
  ort="$(ls bench/target/onnx/onnxruntime-*.jar)"
  cp "$ort" "$out/onnx/"
  # Keep the classes and the linux-x64 natives only (the jar carries macOS, Windows and aarch64 builds too).
  others="$(unzip -Z1 "$ort" | grep '^ai/onnxruntime/native/' | grep -v '^ai/onnxruntime/native/linux-x64/' | grep -v '/$' || true)"
  # shellcheck disable=SC2086
  [ -z "$others" ] || zip -q -d "$out/onnx/$(basename "$ort")" $others >/dev/null
fi

cp bench/torch_decode.py bench/torch_threads.py "$out/bench/"
cp training/export_onnx.py "$out/training/"
cp training/qsparse/*.py "$out/training/qsparse/"
cp models/data/events.txt models/data/SOURCES.md "$out/data/"
cp models/qsparse-demo/tokenizer.json "$out/data/tokenizer.json"
if [ "$demo" = 1 ]; then
  mkdir -p "$out/models"
  cp -r models/qsparse-demo "$out/models/"
fi
cp bench/bundle-run.sh "$out/run.sh"
chmod +x "$out/run.sh"
git rev-parse HEAD > "$out/COMMIT" 2>/dev/null || true

bytes="$(du -sb "$out" | cut -f1)"
echo "bundle.sh: $out: $bytes bytes ($(du -sh "$out" | cut -f1))" >&2
du -sh "$out"/* >&2
if [ "$bytes" -gt "$limit" ]; then
  echo "bundle.sh: the bundle is over 50 MB ($bytes bytes)$([ "$demo" = 1 ] && echo ': --with-demo adds 12 MB')" >&2
  [ "$demo" = 1 ] || exit 1
fi
