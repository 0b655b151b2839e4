#!/bin/bash
# The fashion_mnist recipe's D at patch 4 (64 tokens, the paper's 32x32 setting) against patch 8
# (16 tokens), at equal training time, seeds 0-2. Run from the repository root.
#
# Step budgets rather than time budgets, so that two runs can share the 2 cores (one thread each)
# without biasing each other: 4500 steps at patch 4 against 8600 at patch 8, from the step-time
# ratio bench/train_step.py measured side by side before the runs (1.93x, rounded down to 1.91x).
# Each run's `train_time` (in its metrics.jsonl) shows what the budgets came to: 887-927 s at
# patch 4, 842-881 s at patch 8. KID and FID of the EMA generator at the last step, 2000 samples
# against 10000 real training images.
set -u
export TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 OMP_NUM_THREADS=1
common="--set train.final_eval_samples=0 --set train.eval_samples=2000 --set train.eval_real_samples=10000 --set train.sample_every=100000 --set train.train_minutes=null"
mkdir -p runs/d_patch8
for seed in 0 1 2; do
  python -m recipes.train fashion_mnist --out runs/d_patch8/patch4_seed$seed --steps 4500 \
     --set train.eval_every=4500 --set seed=$seed --set model.discriminator.patch_size=4 $common \
     > runs/d_patch8/patch4_seed$seed.log 2>&1 &
  python -m recipes.train fashion_mnist --out runs/d_patch8/patch8_seed$seed --steps 8600 \
     --set train.eval_every=8600 --set seed=$seed --set model.discriminator.patch_size=8 $common \
     > runs/d_patch8/patch8_seed$seed.log 2>&1 &
  wait
done
