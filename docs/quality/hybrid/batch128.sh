#!/bin/bash
# Does the paper's bCR 10 and DiffAugment p = 0.8 hold the ViT D at chance at the paper's batch
# of 128 too? Two arms side by side, one core and one thread each, same seed and budget: the
# fashion_mnist recipe's model and data with the cifar10 recipe's batch (128), learning rate
# LR for G and D (default 2e-3, the cifar10 recipe's), and
#   paper:  bCR 10, p = 0.8 (the cifar10 / celeba64 / lsun_bedroom64 recipes);
#   lowered: bCR 1, p = 0.15 (the fashion_mnist recipe).
# Run from the repository root, alone on the machine:
#
#   bash docs/quality/hybrid/batch128.sh MINUTES [LR]
#
# Each arm trains for MINUTES of training time, then scores the EMA generator once: FID and KID
# on 2000 samples against 10000 real training images. D's mean logits on augmented reals and
# fakes (d_real, d_fake) are logged every 100 steps in the run's metrics.jsonl: the logit gap
# d_real - d_fake is what says whether D leaves chance. Run folders runs/batch128/{paper,lowered}
# for LR 2e-3, runs/batch128/{paper,lowered}_lrLR otherwise.
set -eu
minutes=$1 lr=${2:-2e-3}
suffix=""
[ "$lr" = 2e-3 ] || suffix="_lr$lr"
export TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 OMP_NUM_THREADS=1
mkdir -p runs/batch128
arm() {
  local core=$1 name=$2 bcr=$3 p=$4
  taskset -c "$core" python -m recipes.train fashion_mnist --out "runs/batch128/$name" \
    --set data.batch_size=128 --set optimizer.g_lr="$lr" --set optimizer.d_lr="$lr" \
    --set gan.bcr_real="$bcr" --set gan.bcr_fake="$bcr" --set gan.augment_p="$p" \
    --set train.train_minutes="$minutes" --set train.eval_every=0 \
    --set train.final_eval_samples=2000 --set train.final_kid_samples=2000 \
    --set train.eval_real_samples=10000 \
    --set train.sample_every=100000 > "runs/batch128/$name.log" 2>&1
}
arm 0 "paper$suffix" 10 0.8 &
arm 1 "lowered$suffix" 1 0.15 &
wait
