#!/bin/bash
# The side-by-side goal, on one quiet machine, one run after the other (nothing else
# may run meanwhile): the DCGAN baseline and the fashion_mnist recipe, 3 seeds of 25 training
# minutes each, then one seed of 120. Run from the repository root; about 4 h 20 min of
# training plus the evaluations, so in pieces across sessions: a finished run is skipped, an
# interrupted recipe run resumes, an interrupted baseline run is started again.
#
#   bash docs/quality/hybrid/final.sh [RECIPE_SETS...]   # e.g. --set model.discriminator.architecture=stylegan2
#   FINAL_PART=120 bash docs/quality/hybrid/final.sh ...   # only the 120-min pair (25: only the seeds)
#   FINAL_PART=25 FINAL_SEEDS="0 1" bash docs/quality/hybrid/final.sh   # some of the seeds (default 0 1 2)
#
# Every run: FID and KID x1000 on 2000 samples against 10000 real training images, at half
# the budget and at the end (the 120-min runs every 30 minutes), through the same
# run.evaluation_callbacks. The 120-min recipe run's FID10k comes afterwards from
# `python -m vitgan_tf.evaluate --run runs/quality/recipe_120_seed0 --num-samples 10000 --kid-samples 2000`.
set -u
out=runs/quality
mkdir -p "$out"
done_run() { [ -f "$1/metrics.jsonl" ] && grep -q '"fid2k"' "$1/metrics.jsonl" && \
             python -c "import json,sys; r=[json.loads(l) for l in open('$1/metrics.jsonl')]; sys.exit(0 if r[-1]['train_time'] >= $2*60 else 1)"; }
baseline() {  # seed minutes every
  local dir="$out/dcgan_$2_seed$1"
  done_run "$dir" "$2" && return
  rm -rf "$dir"
  python bench/cnn_baseline.py --out "$dir" --minutes "$2" --seed "$1" --eval-every-minutes "$3" \
    > "$dir.log" 2>&1
}
recipe() {  # seed minutes every [sets]
  local seed=$1 minutes=$2 every=$3
  shift 3
  local dir="$out/recipe_${minutes}_seed$seed"
  done_run "$dir" "$minutes" && return
  python -m recipes.train fashion_mnist --out "$dir" --set seed="$seed" \
    --set train.train_minutes="$minutes" --set train.eval_every=0 \
    --set train.eval_every_minutes="$every" --set train.final_eval_samples=2000 \
    --set train.eval_samples=2000 "$@" >> "$dir.log" 2>&1
}
part=${FINAL_PART:-all}
case "$part" in
  all|25|120|120-recipe|120-baseline) ;;
  *) echo "FINAL_PART must be all, 25, 120, 120-recipe or 120-baseline, not '$part'" >&2; exit 2;;
esac
seeds=${FINAL_SEEDS:-0 1 2}
for seed in $seeds; do
  case "$seed" in 0|1|2) ;; *) echo "FINAL_SEEDS holds seeds 0, 1 or 2, not '$seed'" >&2; exit 2;; esac
done
# One line per invocation: runs pair up only where these lines name the same CPU.
echo "$(date -u +%FT%TZ) part=$part seeds=$seeds $(lscpu | grep -E 'Model name|CPU family|^Model:' | tr -s ' ' | tr '\n' ' ')" >> "$out/cpu.txt"
if [ "$part" = all ] || [ "$part" = 25 ]; then
  for seed in $seeds; do
    baseline "$seed" 25 12.5
    recipe "$seed" 25 12.5 "$@"
  done
fi
case "$part" in all|120|120-baseline) baseline 0 120 30;; esac
case "$part" in all|120|120-recipe) recipe 0 120 30 "$@";; esac
