#!/bin/bash
# One screening probe of the fashion_mnist recipe, pinned to one core with one thread, so that
# two probes can run side by side without taking each other's CPU time. Run from the repository
# root:
#
#   bash docs/quality/hybrid/probe.sh CORE NAME MINUTES [--set KEY=VALUE ...]
#
# Trains for MINUTES of training time (one core: about half the steps of a 2-core minute), then
# scores the EMA generator: FID and KID on 2000 samples against 10000 real training images, at
# half the budget and at the end. The run folder is runs/hybrid/NAME, its log runs/hybrid/NAME.log.
set -eu
core=$1 name=$2 minutes=$3
shift 3
half=$(python -c "print($minutes / 2)")
export TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 OMP_NUM_THREADS=1
mkdir -p runs/hybrid
taskset -c "$core" python -m recipes.train fashion_mnist --out "runs/hybrid/$name" \
  --set train.train_minutes="$minutes" --set train.eval_every=0 \
  --set train.eval_every_minutes="$half" --set train.final_eval_samples=2000 \
  --set train.eval_samples=2000 --set train.eval_real_samples=10000 \
  --set train.sample_every=100000 "$@" > "runs/hybrid/$name.log" 2>&1
