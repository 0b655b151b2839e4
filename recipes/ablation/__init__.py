"""ViTGAN ablation: which of the paper's tricks make the ViT discriminator train.

    python -m recipes.ablation --out runs/ablation                  # 6 variants x 3 seeds x 20 min
    python -m recipes.ablation --minutes 5 --variants full,no_bcr --seeds 0 --out runs/ablation_5min
    python -m recipes.ablation --out runs/ablation --resume         # finish an interrupted ablation
    python -m recipes.ablation --out runs/ablation --resume --seeds 0,1,2,3  # add a seed later
    python -m recipes.ablation --smoke --seeds 0 --out /tmp/ablation_smoke  # tiny model, seconds per run

Every run trains the `fashion_mnist` recipe (recipes/fashion_mnist.py,
with `BASELINE`'s ISN and EMA decay 0.995, plus `--set` overrides) with the
same data and model size for the same budget of TRAINING time (`--minutes`),
through `run.train`, the code of `python -m recipes.train`: its
`train.train_minutes` budget (time spent in training steps; evaluations,
Lipschitz estimates and epoch-end checkpoints are not counted), its
`FIDCallback`s on a training-time schedule and its Lipschitz monitor, all
logged into the run folder's `metrics.jsonl`, from which the ablation reads
each run's curves. A run is one
(variant, seed) pair of `--variants` x `--seeds` (default seeds 0,1,2;
`--seed N` is an alias of `--seeds N`; the seed is the config's `seed`, so
`--set seed=...` is refused); runs go seed-major (every variant for the
first seed, then the next seed), so an interrupted ablation stays balanced.
Variants:

    full            L2 attention (tied W_q = W_k) + ISN + bCR + DiffAugment (the paper's recipe)
    dot_attention   D with dot-product attention (separate W_q, W_k), the naive ViT D
    plain_sn        D with plain spectral normalisation (sigma = 1) instead of ISN
    no_bcr          bCR off (lambda_real = lambda_fake = 0)
    no_diffaugment  DiffAugment off (empty policy)
    hybrid          the authors' pairing: the StyleGAN2 discriminator (width x0.25)

Metrics, all of the EMA generator against real-train Inception features
(the 2015 Inception, docs/evaluation.md; reference statistics computed once, cached
and shared by the runs):
- at the end: KID x1000 (unbiased, +- TF-GAN's block std) on `--kid-samples`
  generated vs as many real images, and FID on `--fid-samples` generated
  images (KID uses the first `--kid-samples` of them) vs `--real-samples`
  real. FID is biased upwards at a few thousand samples (and its covariance
  is singular below 2048): compare variants with it, not papers;
- every `--eval-every-minutes` of training time before the end: KID and FID
  from the features of `--curve-samples` generated images (a cheaper,
  noisier curve; KID stays unbiased);
- D's losses and mean logits (the trackers' means over each
  `train.log_every` steps; the logit gap is d_real - d_fake) and D's
  Lipschitz estimate (`LipschitzMonitor`, every `train.log_every` steps,
  on a fixed batch of 16 real images, the same for every run) against
  training time.
Per variant, over its finished seeds: mean and sample std (ddof=1; n/a
with one seed) of the final KID x1000, FID, logit gap and Lipschitz
estimate.

Outputs in `--out`: `results.json` (everything, rewritten after each run;
keys "runs", keyed `variant/seedN`, and "summary", keyed by variant),
`ablation.md` (per-variant summary, per-run table, command, machine),
`kid_by_variant.png` (mean KID x1000 +- std per variant, seeds as dots),
`kid_vs_time.png`, `d_vs_time.png` (D's loss and Lipschitz estimate against
training time; one line per run, one colour per variant),
`samples_{variant}_seed{seed}.png` (64 EMA samples, fixed latents) and
`runs/{variant}/seed{seed}/` (the run folder of `recipes.train`:
checkpoints, metrics.jsonl, TensorBoard). A run that crashes is recorded as
failed and the others go on; `--resume` keeps finished runs and retrains the
others from scratch (with every asked run finished, it only rewrites the
tables and plots from `results.json`); `--seeds` may grow on resume. Each run
records its machine, with a `cpu_signature`: the budget is training time, so
runs on different CPUs are not comparable, and a `--resume` that has runs to
train on another CPU than the finished runs is refused unless
`--allow-other-cpu` (then results.json has `"mixed_cpus": true` and
ablation.md a warning).

Wall time: 20 min of training plus the evaluations, about 26 min per run
with the defaults (docs/quality.md, "The ablation command", has the
measurements).

Package layout: `variants` (the arms, settings and each run's config),
`runner` (one run), `report` (statistics, `results.json`'s summary,
`ablation.md`), `plots`, `cli` (`main`).
"""

from .cli import check_out, main, parse_args, write_outputs
from .report import (
    D_PLOT, KID_PLOT, PLOT, RESULTS, TABLE, best_line, compare_to_best, cpu_groups, cpu_mismatch,
    finished_runs, markdown, resume_error, run_signature, summarize,
)
from .runner import (
    NUM_GRID_SAMPLES, cpu_signature, curves, evaluation_point, grid_name, image_shape, logit_gap,
    machine_info, reference, reference_dataset, run_dir_of, run_variant,
)
from .variants import (
    BASELINE, DEFAULT_SEEDS, DEFAULTS, MAX_EPOCHS, MAX_MINUTES, MIN_KID_SAMPLES, RECIPE,
    SMOKE_DEFAULTS, SMOKE_SETS, VARIANTS, parse_seeds, parse_variants, plan_runs, resolve_config,
    resolve_settings, run_key, variant_config,
)
