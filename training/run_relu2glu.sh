#!/usr/bin/env bash
# The "ReLU vs ReLU²GLU" experiment (docs/experiments/relu2glu.md): six small models with the
# same data, shape, seed and token budget; feed-forward relu / swiglu / relu2glu, each dense and
# with 50% top-K on every linear input. Then their validation perplexity and the per-layer
# sparsity at the input of down_proj, in PyTorch (training/ffn_sparsity.py) and in the Java
# runtime (bin/qsparse score --ffn-sparsity), then the plots and the table
# (training/plot_relu2glu.py).
#
#   nohup nice -n 15 training/run_relu2glu.sh > training/work/relu2glu/logs/run.log 2>&1 &
#
# Sized for a shared 2-core machine: two runs at a time, one BLAS/OpenMP thread each.
# STEPS (default 400) x 8 rows x 128 predicted tokens (409,600 tokens, 0.37 epoch of the
# corpus) is the token budget of every model.
# SEED (default 1234) seeds the initialisation and the data order; another seed works in
# training/work/relu2glu-seed<SEED>/ and writes relu2glu-seed<SEED>-*.{png,json}.
# A model whose training_log.json exists is not trained again; delete the work directory to
# start over.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PY="${PYTHON:-/usr/bin/python3}"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
STEPS="${STEPS:-400}"
SEED="${SEED:-1234}"
if [ "$SEED" = 1234 ]; then
  work=training/work/relu2glu name=relu2glu
else
  work="training/work/relu2glu-seed$SEED" name="relu2glu-seed$SEED"
fi
mkdir -p "$work/logs" "$work/models" "$work/eval"

if [ ! -s training/work/corpus/train.txt ]; then
  "$PY" training/prepare_corpus.py
fi

# intermediate 256 for the two GLUs (gate, up, down: 3 x 128 x 256 weights per layer) and
# 384 for plain ReLU (up, down: 2 x 128 x 384), so all six have the same parameter count.
common=(--tokenizer models/qsparse-demo/tokenizer.json --train training/work/corpus/train.txt
        --valid models/data/valid.txt --cache-dir "$work/cache"
        --hidden-size 128 --layers 4 --heads 4 --kv-heads 2 --context 128 --rope-theta 10000
        --batch-size 8 --lr 2e-3 --min-lr-ratio 0.1 --warmup-steps 50 --weight-decay 0.1
        --grad-clip 1.0 --seed "$SEED" --threads 1 --max-steps "$STEPS" --log-every 20
        --eval-every-minutes 0 --eval-every-steps 50 --activation-bits 0 --topk-rescale none)

width_of() {  # activation -> intermediate size
  if [ "$1" = relu ]; then echo 384; else echo 256; fi
}

train_one() {  # activation topk-ratio name
  local act="$1" ratio="$2" name="$3"
  if [ -s "$work/models/$name/training_log.json" ]; then
    echo "$name already trained"
    return
  fi
  "$PY" training/train.py "${common[@]}" --mlp-activation "$act" \
    --intermediate-size "$(width_of "$act")" --topk-ratio "$ratio" \
    --out "$work/models/$name" --work-dir "$work/runs/$name" > "$work/logs/train-$name.log" 2>&1
  echo "trained $name: $(grep 'final validation' "$work/logs/train-$name.log")"
}

# Two queues side by side, one per core, each with a mix of (faster) dense and top-K runs.
( train_one relu 1.0 relu-dense; train_one swiglu 0.5 swiglu-topk50
  train_one relu2glu 1.0 relu2glu-dense ) &
first=$!
( train_one relu 0.5 relu-topk50; train_one swiglu 1.0 swiglu-dense
  train_one relu2glu 0.5 relu2glu-topk50 ) &
second=$!
wait "$first"
wait "$second"

# The same figures from PyTorch and from the Java runtime (bin/qsparse builds itself if needed).
for act in relu swiglu relu2glu; do
  for suffix in dense topk50; do
    model="$act-$suffix"
    "$PY" training/ffn_sparsity.py --model "$work/models/$model" \
      --valid models/data/valid.txt --out "$work/eval/$model.json" > /dev/null
    bin/qsparse score --model "$work/models/$model" --file models/data/valid.txt --ffn-sparsity \
      > "$work/eval/$model.java.json" 2> "$work/logs/score-$model.log"
  done
done
"$PY" training/plot_relu2glu.py --runs "$work/models" --eval "$work/eval" \
  --out docs/experiments --name "$name"
