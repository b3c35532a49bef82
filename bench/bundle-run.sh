#!/usr/bin/env bash
# The bench bundle's runner (copied as run.sh by bench/bundle.sh). Runs `bench` at every thread count with
# the bundle's own Java runtime, PyTorch pinned to the same count when a python3 with torch is here, and
# ONNX Runtime in the JVM when the bundle carries it; writes every table and log to one folder.
#
#   ./run.sh [bench options...]                 e.g. ./run.sh --reps 3
#   THREADS="1 2" OUT=results/x ./run.sh --reps 1 --decode-tokens 16 --prefill 64 --no-gemv
#
# Environment: THREADS (default "1 2 4 8 16"; counts above the machine's cores are skipped), OUT (default
# results/HOST-DATE), PYTHON (an interpreter with torch; default: the first of python3, /usr/bin/python3 that
# imports it), JAVA_OPTS (extra JVM flags, e.g. -Xmx8g). The seed-shape model (random weights, ~0.9 GB with its
# int8 and ternary conversions, and its ONNX export) is written once under work/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
threads="${THREADS:-1 2 4 8 16}"
out="${OUT:-results/$(hostname)-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out" work/seed-f32

py=""
for p in "${PYTHON:-}" python3 /usr/bin/python3; do
  if [ -n "$p" ] && command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch' >/dev/null 2>&1; then py="$p"; break; fi
done
peer_args=(--work work --events data/events.txt --torch-script bench/torch_decode.py
           --onnx-exporter training/export_onnx.py)
if [ -n "$py" ]; then
  peer_args+=(--python "$py")
else
  peer_args+=(--torch off)
fi
# ONNX Runtime needs its jars here and a torch to export the weights with.
if [ -d onnx ] && [ -n "$py" ]; then peer_args+=(--onnx onnx); else peer_args+=(--onnx off); fi
# The random seed-shape model has no tokenizer: it embeds the events with the demo model's (ids < its vocabulary).
[ -f work/seed-f32/tokenizer.json ] || cp data/tokenizer.json work/seed-f32/tokenizer.json

cores="$(nproc)"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(hostname)"
  echo "uptime: $(uptime)"
  echo "python: ${py:-none}$( [ -n "$py" ] && "$py" -c 'import sys, torch; print(" (python", sys.version.split()[0] + ", torch", torch.__version__ + ")")' 2>/dev/null)"
  echo "java: $(jre/bin/java -version 2>&1 | head -1)"
  echo "threads: $threads; bench options: ${*:-(defaults)}"
  echo
  lscpu 2>/dev/null || cat /proc/cpuinfo
} > "$out/machine.txt"
echo "bench bundle: writing to $out (python: ${py:-none})" >&2

for n in $threads; do
  if [ "$n" -gt "$cores" ]; then
    echo "bench bundle: skipping --threads $n (this machine has $cores cores)" | tee -a "$out/skipped.txt" >&2
    continue
  fi
  echo "bench bundle: --threads $n ..." >&2
  # shellcheck disable=SC2086
  jre/bin/java ${JAVA_OPTS:-} --add-modules jdk.incubator.vector -cp "lib/*" dev.qsparse.cli.BenchMain \
    --threads "$n" "${peer_args[@]}" "$@" > "$out/bench-threads-$n.md" 2> "$out/bench-threads-$n.log" || {
      echo "bench bundle: --threads $n failed (exit $?), see $out/bench-threads-$n.log" >&2; }
done

{
  echo "# bench bundle results, $(hostname), $(date -u +%Y-%m-%d)"
  echo
  echo '```'
  head -n 8 "$out/machine.txt"
  echo '```'
  for n in $threads; do
    [ -s "$out/bench-threads-$n.md" ] || continue
    echo
    echo "## --threads $n"
    echo
    cat "$out/bench-threads-$n.md"
  done
} > "$out/all.md"
echo "bench bundle: tables in $out/all.md" >&2
