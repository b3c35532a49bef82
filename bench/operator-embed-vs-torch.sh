#!/usr/bin/env bash
# The Flink operator (parallelism 1, micro-batches of 32) and PyTorch (pinned to 1 thread, one
# padded batch) embedding the same 32 events, side by side, ROUNDS times in a row. Needs one
# `bin/qsparse bench` run first: it builds the seed-shape variants and writes the 32 events it
# embeds (bench/target/bench-models/embed-texts-seed-shape.txt and embed-ids-seed-shape.json).
# Usage: bench/operator-embed-vs-torch.sh [VARIANT=seed-shape-topk50_int8] [ROUNDS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
variant=${1:-seed-shape-topk50_int8}
rounds=${2:-2}
work=bench/target/bench-models
for f in "$work/embed-texts-seed-shape.txt" "$work/embed-ids-seed-shape.json" "$work/seed-f32" "$work/variants/$variant"; do
  [ -e "$f" ] || { echo "missing $f: run bin/qsparse bench first" >&2; exit 2; }
done
mvn -B -ntp -q -pl operator -am package -DskipTests -Dqsparse.skipHfTokenizers=true \
  dependency:build-classpath -Dmdep.outputFile="$PWD/operator/target/bench.classpath" -Dmdep.includeScope=test
cp="operator/target/test-classes:operator/target/classes:$(cat operator/target/bench.classpath)"
# (the class path file is written by every module of the reactor; the operator, last, wins)
for round in $(seq "$rounds"); do
  echo "round $round: PyTorch, one padded batch of the 32 events"
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 /usr/bin/python3 bench/torch_decode.py \
    --model "$work/seed-f32" --threads 1 --tokens 4 --prefill 16 --reps 5 \
    --embed-ids "$work/embed-ids-seed-shape.json" 2>/dev/null | tail -1 \
    | /usr/bin/python3 -c 'import json, sys; [print("  PyTorch %s: %.1f events/s" % (r["variant"], r["embed"])) for r in json.load(sys.stdin)["rows"]]' 
  echo "round $round: operator, $variant, the same 32 events cycled 10 times"
  java --add-modules jdk.incubator.vector -Djava.io.tmpdir=operator/target -Dbench.mode=embed \
    -Dbench.batches=32 -Dbench.parallelism=1 -cp "$cp" dev.qsparse.flink.bench.OperatorBenchmark \
    "$work/variants/$variant" 320 "$work/embed-texts-seed-shape.txt" 2>&1 | grep -E '^\| (parallelism|---|1 )'
done
