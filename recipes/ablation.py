"""ViTGAN ablation: which of the paper's tricks make the ViT discriminator train.

    python -m recipes.ablation --out runs/ablation                  # 6 variants x 3 seeds x 20 min
    python -m recipes.ablation --minutes 5 --variants full,no_bcr --seeds 0 --out runs/ablation_5min
    python -m recipes.ablation --out runs/ablation --resume         # finish an interrupted ablation
    python -m recipes.ablation --out runs/ablation --resume --seeds 0,1,2,3  # add a seed later
    python -m recipes.ablation --smoke --seeds 0 --out /tmp/ablation_smoke  # tiny model, seconds per run

Every run trains the `fashion_mnist` recipe (recipes/fashion_mnist.py,
with `BASELINE`'s ISN and EMA decay 0.995, plus `--set` overrides) with the
same data and model size for the same budget of TRAINING time (`--minutes`):
time spent in training steps, counted by
`vitgan_tf.training.callbacks.TrainTimeBudget`; evaluations, Lipschitz
estimates and epoch-end checkpoints are not counted. A run is one
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

Hardware: 2 CPU cores. Wall time, measured with the defaults on a quiet
machine: Inception runs at ~21 images/s (10k reference images took 8 min;
they are cached after the first run), so a run takes 20 min training +
3 x ~1 min (curve) + ~1.7 min (final, 2000 images) + ~1 min (start, tracing,
Lipschitz estimates) ~= 26 min: about 2.6 hours per seed of the six
variants, 7.8 hours for the default three seeds (in pieces: `--resume`).
`--eval-every-minutes 10` saves ~2 min per run. With `--minutes 5` (one
evaluation, at the end) a run took 6.6-7.1 min of wall time on an AMD EPYC
Zen 5: 15 runs in about 1.7 hours.
"""

import argparse
import json
import math
import os
import platform
import shlex
import shutil
import sys
import time
import traceback

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RECIPE = "fashion_mnist"
RESULTS = "results.json"
TABLE = "ablation.md"
PLOT = "kid_vs_time.png"
D_PLOT = "d_vs_time.png"
KID_PLOT = "kid_by_variant.png"
DEFAULT_SEEDS = "0,1,2"
NUM_GRID_SAMPLES = 64
LIPSCHITZ_DATA_SEED = 0  # the Lipschitz batch is the same for every run, whatever its seed
MIN_KID_SAMPLES = 2000
# train.steps is only an upper bound: the time budget stops training.
MAX_EPOCHS = 10**6
MAX_MINUTES = 10**5  # of --minutes and --eval-every-minutes (69 days)

# Merged into the recipe config before each variant's overrides: the paper's D (ISN, as the
# recipe) and the short-run EMA decay of the runs in docs/ablation.
BASELINE = {"model": {"discriminator": {"spectral_norm": "isn"}}, "gan": {"ema_decay": 0.995}}

# name -> (description, config overrides merged into the recipe config + BASELINE).
VARIANTS = {
    "full": ("L2 attention (tied W_q = W_k) + ISN + bCR + DiffAugment", {}),
    "dot_attention": ("D with dot-product attention (separate W_q, W_k)",
                      {"model": {"discriminator": {"attention": "dot"}}}),
    "plain_sn": ("D with plain spectral normalisation (sigma = 1)",
                 {"model": {"discriminator": {"spectral_norm": "sn"}}}),
    "no_bcr": ("no bCR (lambda_real = lambda_fake = 0)",
               {"gan": {"bcr_real": 0.0, "bcr_fake": 0.0}}),
    "no_diffaugment": ("no DiffAugment (empty policy)", {"gan": {"augment_policy": ""}}),
    "hybrid": ("the authors' hybrid: StyleGAN2 D (width x0.25) instead of the ViT D",
               {"model": {"discriminator": {"architecture": "stylegan2",
                                            "width_multiplier": 0.25}}}),
}

DEFAULTS = {"minutes": 20.0, "eval_every_minutes": 5.0, "kid_samples": MIN_KID_SAMPLES,
            "fid_samples": MIN_KID_SAMPLES, "curve_samples": 1000, "real_samples": 10000,
            "lipschitz_iterations": 10}
# --smoke: a tiny model for a few seconds per run, few samples (tests).
SMOKE_DEFAULTS = {"minutes": 0.1, "eval_every_minutes": 0.05, "kid_samples": 48,
                  "fid_samples": 48, "curve_samples": 24, "real_samples": 96,
                  "lipschitz_iterations": 1}
SMOKE_SETS = (
    "model.shared.depth=1", "model.shared.hidden_dim=32", "model.shared.mlp_dim=64",
    "model.shared.num_heads=2", "model.generator.z_dim=16", "model.generator.mapping_layers=1",
    "model.generator.decoder_dim=16", "model.generator.fourier_dim=16",
    "data.batch_size=8", "train.log_every=5", "train.num_samples=16",
)


# === Command line ===


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m recipes.ablation", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default=os.path.join("runs", "ablation"),
                        help="output folder (default runs/ablation)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated subset of {','.join(VARIANTS)} (default: all)")
    parser.add_argument("--seeds", "--seed", dest="seeds", default=DEFAULT_SEEDS,
                        help="comma-separated seeds (ints >= 0) of every variant: one run per "
                             f"(variant, seed) (default {DEFAULT_SEEDS}); --seed N means --seeds N")
    parser.add_argument("--minutes", type=float,
                        help="training minutes per run, evaluation excluded (default 20)")
    parser.add_argument("--eval-every-minutes", type=float,
                        help="training minutes between KID evaluations (default 5)")
    parser.add_argument("--kid-samples", type=int,
                        help=f"generated (and real) images for KID, >= {MIN_KID_SAMPLES} (default 2000)")
    parser.add_argument("--fid-samples", type=int,
                        help="generated images for the final FID, >= --kid-samples (default 2000)")
    parser.add_argument("--curve-samples", type=int,
                        help="generated images for KID and FID at each evaluation before the end, "
                             "<= --kid-samples (default 1000)")
    parser.add_argument("--real-samples", type=int,
                        help="real training images of the reference statistics (default 10000)")
    parser.add_argument("--lipschitz-iterations", type=int,
                        help="power-iteration steps of each Lipschitz estimate (default 10)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe config entry, e.g. --set data.batch_size=64 (repeatable)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny model, seconds per run, few samples (a plumbing test)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--overwrite", action="store_true", help="replace an existing results.json")
    mode.add_argument("--resume", action="store_true",
                      help="keep the finished runs of an existing results.json, run the others")
    parser.add_argument("--allow-other-cpu", action="store_true",
                        help="with --resume: train on another CPU than the finished runs "
                             "(marked mixed_cpus; their training-time budgets are not comparable)")
    return parser.parse_args(argv)


def parse_variants(text):
    """`"full,no_bcr"` -> ["full", "no_bcr"] (order kept, duplicates dropped)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError(f"--variants {text!r} names no variant. Choices: {','.join(VARIANTS)}")
    for name in names:
        if name not in VARIANTS:
            raise ValueError(f"Unknown variant {name!r} in --variants {text!r}. "
                             f"Choices: {','.join(VARIANTS)}")
    return list(dict.fromkeys(names))


def parse_seeds(text):
    """`"0,1,2"` -> [0, 1, 2] (order kept, duplicates dropped); ints >= 0."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise ValueError(f"--seeds {text!r} names no seed. Expected comma-separated ints >= 0, e.g. 0,1,2")
    seeds = []
    for part in parts:
        try:
            seed = int(part)
        except ValueError:
            raise ValueError(f"--seeds {text!r}: {part!r} is not an int. Expected ints >= 0") from None
        if seed < 0:
            raise ValueError(f"--seeds {text!r}: {seed} is negative. Expected ints >= 0")
        seeds.append(seed)
    return list(dict.fromkeys(seeds))


def run_key(variant, seed):
    """The key of one run in results["runs"]: `"full/seed0"`."""
    return f"{variant}/seed{seed}"


def plan_runs(names, seeds):
    """[(variant, seed)] seed-major: every variant for the first seed, then the next seed."""
    return [(name, seed) for seed in seeds for name in names]


def resolve_settings(args):
    """The evaluation / budget settings of the parsed arguments (checked)."""
    defaults = SMOKE_DEFAULTS if args.smoke else DEFAULTS
    settings = {key: getattr(args, key) if getattr(args, key) is not None else value
                for key, value in defaults.items()}
    settings["smoke"] = bool(args.smoke)
    from vitgan_tf import limits  # noqa: PLC0415

    for key in ("minutes", "eval_every_minutes"):
        value = settings[key]
        if not (math.isfinite(value) and 0 < value <= MAX_MINUTES):
            raise ValueError(f"Expected --{key.replace('_', '-')} in (0, {MAX_MINUTES}]. Received: {value!r}")
    limits.check_count("--lipschitz-iterations", settings["lipschitz_iterations"], 1, 1000)
    for key in ("kid_samples", "fid_samples", "curve_samples", "real_samples"):
        limits.check_count(f"--{key.replace('_', '-')}", settings[key], 0, limits.MAX_EVAL_SAMPLES)
    kid = settings["kid_samples"]
    if kid < MIN_KID_SAMPLES and not args.smoke:
        raise ValueError(
            f"--kid-samples {kid} is below {MIN_KID_SAMPLES}: KID is reported on >= "
            f"{MIN_KID_SAMPLES} samples (--smoke allows fewer, for tests only)"
        )
    if kid < 2:
        raise ValueError(f"Expected --kid-samples >= 2. Received: {kid}")
    for key in ("fid_samples", "real_samples"):
        if settings[key] < kid:
            raise ValueError(f"Expected --{key.replace('_', '-')} >= --kid-samples {kid}. "
                             f"Received: {settings[key]}")
    if not 2 <= settings["curve_samples"] <= kid:
        raise ValueError(f"Expected 2 <= --curve-samples <= --kid-samples {kid}. "
                         f"Received: {settings['curve_samples']}")
    return settings


def resolve_config(args):
    """The shared config: the recipe's with --smoke and --set applied, without "seed".

    Each run's config (`variant_config`) gets its seed from --seeds, so
    `--set seed=...` is refused.
    """
    from .train import resolve_config as resolve_recipe  # noqa: PLC0415

    for assignment in args.set:
        if assignment.split("=", 1)[0].strip() == "seed":
            raise ValueError(f"--set {assignment!r}: the ablation's seeds come from --seeds")
    # This script evaluates on its own time schedule, not the run's step schedule.
    sets = ["train.eval_every=0", "train.final_eval_samples=0"]
    sets += list(SMOKE_SETS if args.smoke else ())
    sets += args.set
    config = resolve_recipe(RECIPE, sets=sets)
    config.pop("seed")
    return config


def variant_config(config, name, seed):
    """The config of run (`name`, `seed`): `config` with variant `name`'s overrides and `seed`.

    Training runs until the time budget stops it.
    """
    from vitgan_tf.training import run  # noqa: PLC0415

    if name not in VARIANTS:
        raise ValueError(f"Unknown variant {name!r}. Choices: {list(VARIANTS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"Expected a seed int >= 0. Received: seed={seed!r}")
    config = run.merge(run.merge(config, BASELINE), VARIANTS[name][1])
    config["seed"] = seed
    config["train"]["steps"] = MAX_EPOCHS * config["train"]["log_every"]
    config["train"]["train_minutes"] = None  # the ablation's own --minutes budget stops it
    config["train"]["eval_every"] = config["train"]["final_eval_samples"] = 0  # see resolve_config
    config["train"]["lipschitz_every"] = 0  # run_variant adds its own monitor (it keeps the curve)
    return config


def check_out(out, overwrite=False, resume=False):
    """Checks `--out` before anything is written; returns the results to resume or None."""
    from vitgan_tf.io import check_output_folder  # noqa: PLC0415

    check_output_folder(out)
    path = os.path.join(out, RESULTS)
    if not os.path.exists(path):
        return None
    if resume:
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"--resume: cannot read {path}: {error}") from error
    if overwrite:
        return None
    raise FileExistsError(f"{path} exists: pass --resume to finish its runs, --overwrite "
                          "to replace it, or choose another --out")


# === Model, data and metrics helpers ===


def image_shape(config):
    """(image_size, channels) of the config's models."""
    from vitgan_tf.models import presets  # noqa: PLC0415

    model = config["model"]
    overrides = {**model.get("shared", {}), **model.get("discriminator", {})}
    keys = ("image_size", "channels")
    shape = presets.resolve(model["preset"], keys, {k: v for k, v in overrides.items() if k in keys})
    return shape["image_size"], shape["channels"]


def real_batch(config, count=None, seed=LIPSCHITZ_DATA_SEED):
    """The first `count` training images of the config's data (float32 in [-1, 1])."""
    from vitgan_tf import data as data_lib  # noqa: PLC0415
    from vitgan_tf.training.run import LIPSCHITZ_BATCH  # noqa: PLC0415

    count = LIPSCHITZ_BATCH if count is None else count
    size, channels = image_shape(config)
    dataset = data_lib.make_dataset(config["data"]["source"], size, channels, count, seed=seed)
    return next(iter(dataset)).numpy()


def reference_dataset(config):
    """The config's data source, checked to have real images for the metrics."""
    from vitgan_tf.metrics import datasets  # noqa: PLC0415

    source = config["data"]["source"]
    if source not in datasets.DATASETS:
        raise ValueError(f"data.source={source!r} has no real reference for KID/FID. "
                         f"Choices: {sorted(datasets.DATASETS)}")
    return source


def reference(config, settings, extractor, cache):
    """Real-train Inception statistics (cached when `cache`), shared by every run."""
    from vitgan_tf.metrics import evaluation  # noqa: PLC0415

    return evaluation.reference_statistics(
        reference_dataset(config), "train", image_shape(config)[0], num_samples=settings["real_samples"],
        kid_samples=settings["kid_samples"], extractor=extractor, cache=cache,
    )


def evaluate(generator, real, extractor, num_samples, kid_samples, seed):
    """KID x1000 (+ std) on `kid_samples` and FID on `num_samples` images of `generator`."""
    from vitgan_tf.metrics import evaluation  # noqa: PLC0415

    start = time.perf_counter()
    fake = evaluation.collect_statistics(
        evaluation.generator_batches(generator, num_samples, 50, seed), extractor,
        num_samples, kid_samples=kid_samples, progress=False,
    )
    metrics = evaluation.compute_metrics(real, fake, ("fid", "kid"))
    kid = evaluation.metric_name("kid", kid_samples)
    return {
        "kid_x1000": 1000.0 * metrics[kid], "kid_std_x1000": 1000.0 * metrics[f"{kid}_std"],
        "fid": metrics[evaluation.metric_name("fid", num_samples)],
        "kid_samples": kid_samples, "fid_samples": num_samples, "metrics": metrics,
        "eval_seconds": round(time.perf_counter() - start, 2),
    }


def make_recorder(name, budget, batch_size, eval_every_seconds, evaluate_fn, record):
    """A `VariantRecorder` (defined lazily: it subclasses a Keras callback)."""
    import keras  # noqa: PLC0415

    from vitgan_tf.training.callbacks import current_step  # noqa: PLC0415

    class VariantRecorder(keras.callbacks.Callback):
        """One run's curves against TRAINING time; evaluations on a time schedule.

        Put it after `TrainTimeBudget` and `LipschitzMonitor`: its work is then
        not training time, and it sees the monitor's `lipschitz_d` batch log.
        Appends to the lists of `record` (kept by the caller, so a crash keeps
        what was measured): "losses" at each epoch end (Keras resets the
        trackers every epoch, so epoch logs are means over exactly the steps
        since the last record), "lipschitz" whenever the monitor logged, and
        "curve" every `eval_every_seconds` of training time (the evaluation at
        the end of the budget is the caller's).
        """

        def __init__(self):
            super().__init__()
            self.next_eval = eval_every_seconds
            self.start = time.perf_counter()

        def _point(self):
            step = current_step(self.model)
            return {"step": step, "images_seen": step * batch_size,
                    "train_minutes": round(budget.elapsed / 60.0, 4)}

        def on_train_batch_end(self, batch, logs=None):
            logs = logs or {}
            if "lipschitz_d" in logs:
                record["lipschitz"].append({**self._point(), "lipschitz": float(logs["lipschitz_d"])})
            if budget.exhausted or budget.elapsed < self.next_eval:
                return
            while self.next_eval <= budget.elapsed:
                self.next_eval += eval_every_seconds
            point = {**self._point(), **evaluate_fn(self.model.ema_generator)}
            record["curve"].append(point)
            print(f"[{name}] {point['train_minutes']:.2f} train min, step {point['step']}: "
                  f"KIDx1000 {point['kid_x1000']:.2f} +- {_fmt(point['kid_std_x1000'], '.2f')}, "
                  f"FID {point['fid']:.1f} ({point['eval_seconds']:.0f} s)", flush=True)

        def on_epoch_end(self, epoch, logs=None):
            point = {**self._point(), **{k: float(v) for k, v in (logs or {}).items()}}
            point.pop("lipschitz_d", None)  # the monitor's last value, recorded above
            record["losses"].append(point)
            kid = record["curve"][-1]["kid_x1000"] if record["curve"] else float("nan")
            lip = record["lipschitz"][-1]["lipschitz"] if record["lipschitz"] else float("nan")
            print(f"[{name}] {point['train_minutes']:.2f}/{budget.seconds / 60:.2f} train min "
                  f"({(time.perf_counter() - self.start) / 60:.1f} min wall), "
                  f"step {point['step']}, d_loss {point.get('d_loss', float('nan')):.3f}, "
                  f"Lipschitz {_fmt(lip, '.3g')}, KIDx1000 {_fmt(kid, '.2f')}", flush=True)

    return VariantRecorder()


# === One run ===


def run_dir_of(out, variant, seed):
    """`out/runs/{variant}/seed{seed}`: the run folder of `recipes.train`."""
    return os.path.join(out, "runs", variant, f"seed{seed}")


def grid_name(variant, seed):
    """`samples_{variant}_seed{seed}.png`: one run's grid in the ablation folder."""
    return f"samples_{variant}_seed{seed}.png"


def logit_gap(losses):
    """d_real - d_fake of the last logged losses record, or None."""
    last = losses[-1] if losses else {}
    if "d_real" not in last or "d_fake" not in last:
        return None
    return last["d_real"] - last["d_fake"]


def run_variant(key, config, settings, real, extractor, lipschitz_images, out, record):
    """Trains run `key` (record's variant and seed) for the budget and evaluates it.

    Fills and returns `record`.
    """
    from vitgan_tf.images import save_grid  # noqa: PLC0415
    from vitgan_tf.training.callbacks import LipschitzMonitor  # noqa: PLC0415
    from vitgan_tf.metrics.evaluation import generator_batches  # noqa: PLC0415
    from vitgan_tf.training import callbacks, run  # noqa: PLC0415

    start = time.perf_counter()
    grid_file = grid_name(record["variant"], config["seed"])
    run_dir = run_dir_of(out, record["variant"], config["seed"])
    if os.path.isdir(run_dir):  # an unfinished or replaced attempt: start from scratch
        shutil.rmtree(run_dir)
    record["run_dir"] = os.path.relpath(run_dir, out)
    seed, curve_samples = config["seed"], settings["curve_samples"]
    batch_size, log_every = config["data"]["batch_size"], config["train"]["log_every"]

    def evaluate_fn(generator, num_samples=curve_samples, kid_samples=curve_samples):
        return evaluate(generator, real, extractor, num_samples, kid_samples, seed)

    # --smoke stops only at a multiple of 2 x log_every, so that even a run whose
    # first (compiling) step outlasts its budget logs losses at two steps.
    budget = callbacks.TrainTimeBudget(settings["minutes"] * 60.0,
                                       every_n_steps=2 * log_every if settings.get("smoke") else None)
    monitor = LipschitzMonitor(lipschitz_images, every_n_steps=log_every,
                               num_iterations=settings["lipschitz_iterations"])
    recorder = make_recorder(key, budget, batch_size, settings["eval_every_minutes"] * 60.0,
                             evaluate_fn, record)
    gan = run.train(config, run_dir, extra_callbacks=[budget, monitor, recorder], verbose=0)

    step = callbacks.current_step(gan)
    point = {"step": step, "images_seen": step * batch_size,
             "train_minutes": round(budget.elapsed / 60.0, 4)}
    if not record["lipschitz"] or record["lipschitz"][-1]["step"] != step:
        record["lipschitz"].append({**point, "lipschitz": monitor.estimate()})
    final = {**point, **evaluate_fn(gan.ema_generator, settings["fid_samples"], settings["kid_samples"]),
             "final": True}
    record["curve"].append(final)
    samples = next(generator_batches(gan.ema_generator, NUM_GRID_SAMPLES, NUM_GRID_SAMPLES, seed))
    save_grid(samples, os.path.join(out, grid_file))
    record.update({
        "status": "done", **point, "steps": step, "budget_minutes": settings["minutes"],
        "train_seconds": round(budget.elapsed, 3), "budget_seconds": settings["minutes"] * 60.0,
        "max_step_seconds": round(budget.max_step_seconds, 4),
        "eval_seconds": round(sum(p["eval_seconds"] for p in record["curve"]), 2),
        "wall_seconds": round(time.perf_counter() - start, 1),
        "final": final, "final_d_loss": record["losses"][-1].get("d_loss") if record["losses"] else None,
        "final_logit_gap": logit_gap(record["losses"]),
        "final_lipschitz": record["lipschitz"][-1]["lipschitz"], "samples": grid_file,
    })
    print(f"[{key}] done: {step} steps in {budget.elapsed / 60:.2f} train min, KIDx1000 "
          f"{final['kid_x1000']:.2f} +- {final['kid_std_x1000']:.2f}, FID{final['fid_samples']} "
          f"{final['fid']:.1f} ({record['wall_seconds'] / 60:.1f} min wall)", flush=True)
    return record


# === Outputs ===


def cpu_signature():
    """This CPU's `vitgan_tf.machine.cpu_signature`: runs with a training-time budget are
    comparable only on CPUs with one signature."""
    from vitgan_tf import machine  # noqa: PLC0415

    return machine.cpu_signature()


def machine_info():
    """CPU, its `cpu_signature`, core count and library versions of this machine."""
    import keras  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    from vitgan_tf.machine import cpu_model  # noqa: PLC0415

    return {"cpu": cpu_model(), "cpu_signature": cpu_signature(), "cores": os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__}


def run_signature(record):
    """The cpu_signature of a run's record ("unknown" if it has none)."""
    return (record.get("machine") or {}).get("cpu_signature", "unknown")


def finished_runs(results):
    """{key: record} of the finished runs of `results`, in their order."""
    return {k: r for k, r in results.get("runs", {}).items() if r.get("status") == "done"}


def _stats(values):
    """{"mean", "std", "n"} of the non-None values; std with ddof=1, None below 2 values."""
    values = [float(v) for v in values if v is not None]
    n = len(values)
    return {"mean": float(np.mean(values)) if n else None,
            "std": float(np.std(values, ddof=1)) if n >= 2 else None, "n": n}


def _kid_order(item):
    """Sort key of a (variant, summary) item: mean KID x1000, missing or NaN last."""
    mean = item[1]["kid_x1000"]["mean"]
    return (mean is None or math.isnan(mean), mean if mean is not None else 0.0)


def summarize(results):
    """results["summary"]: per variant, mean and std of its finished runs' finals, best KID first."""
    runs = results.get("runs", {})
    done = finished_runs(results)
    summary = {}
    for name in dict.fromkeys(r["variant"] for r in runs.values()):
        mine = [r for r in done.values() if r["variant"] == name]
        summary[name] = {
            "description": VARIANTS[name][0], "n": len(mine), "seeds": [r["seed"] for r in mine],
            "not_done_seeds": [r["seed"] for r in runs.values()
                               if r["variant"] == name and r.get("status") != "done"],
            "kid_x1000": _stats(r["final"]["kid_x1000"] for r in mine),
            "fid": _stats(r["final"]["fid"] for r in mine),
            "logit_gap": _stats(r.get("final_logit_gap") for r in mine),
            "lipschitz": _stats(r.get("final_lipschitz") for r in mine),
            "steps": _stats(r["steps"] for r in mine),
        }
    return dict(sorted(summary.items(), key=_kid_order))


def compare_to_best(summary):
    """results["best"]: the variant of lowest mean KID x1000, and whether `full` is within one std.

    The rule: `full_mean - best_mean <= max(best_std, full_std)` (KID x1000,
    sample stds over seeds; a missing std is left out of the max). None when
    undecidable (no finished run, no `full`, or no std: one seed each).
    """
    ranked = [(n, s) for n, s in summary.items() if s["n"] and not _kid_order((n, s))[0]]
    if not ranked:
        return None
    best_name, best = ranked[0]
    out = {"variant": best_name, "kid_x1000_mean": best["kid_x1000"]["mean"],
           "full_within_one_std": None,
           "rule": "full_mean - best_mean <= max(best_std, full_std), KID x1000 over seeds"}
    full = summary.get("full")
    if best_name == "full":
        out["full_within_one_std"] = True
    elif full and full["n"] and not _kid_order(("full", full))[0]:
        stds = [s for s in (best["kid_x1000"]["std"], full["kid_x1000"]["std"]) if s is not None]
        if stds:
            out["full_within_one_std"] = bool(full["kid_x1000"]["mean"] - best["kid_x1000"]["mean"]
                                              <= max(stds))
    return out


def cpu_groups(results):
    """{cpu_signature: [run keys]} of the finished runs."""
    groups = {}
    for key, record in finished_runs(results).items():
        groups.setdefault(run_signature(record), []).append(key)
    return groups


def _fmt(value, spec):
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def _pm(stats, spec):
    """`"mean +- std"` of a `_stats` dict (n/a where missing)."""
    return f"{_fmt(stats['mean'], spec)} +- {_fmt(stats['std'], spec)}"


def best_line(results):
    """The sentence naming the best variant and whether `full` is within one std of it."""
    best, summary = results.get("best"), results["summary"]
    if best is None:
        return "No variant has a finished run yet."
    b = summary[best["variant"]]
    line = (f"Best (lowest mean KID x1000): `{best['variant']}`, {_pm(b['kid_x1000'], '.2f')} over "
            f"{b['n']} seed(s). Rule for \"`full` is within one std of the best\": "
            "`full_mean - best_mean <= max(best_std, full_std)` (KID x1000, sample stds over seeds). ")
    full = summary.get("full")
    if best["variant"] == "full":
        return line + "`full` is the best."
    if not full or not full["n"]:
        return line + "`full` has no finished run."
    f, bk = full["kid_x1000"], b["kid_x1000"]
    stds = [s for s in (bk["std"], f["std"]) if s is not None]
    if best["full_within_one_std"] is None:
        return line + f"`full` ({_pm(f, '.2f')}): undecidable, no std (one seed each)."
    verdict = "yes" if best["full_within_one_std"] else "no"
    return line + (f"`full` ({_pm(f, '.2f')}) is within one std: {verdict} "
                   f"({f['mean']:.2f} - {bk['mean']:.2f} = {f['mean'] - bk['mean']:.2f} vs "
                   f"{max(stds):.2f}).")


def markdown(results):
    """ablation.md: the per-variant summary, the per-run table, the command and the machine."""
    s, m = results["settings"], results["machine"]
    fid_n = s["fid_samples"]
    seeds = sorted({r["seed"] for r in results["runs"].values()})
    lines = [
        "# ViTGAN ablation", "",
        f"Recipe `{RECIPE}`, {s['minutes']:g} training minutes per run (evaluation excluded), "
        f"seeds {', '.join(map(str, seeds))}. EMA generator; KID x1000 (unbiased, +- TF-GAN's std) on "
        f"{s['kid_samples']} generated vs {s['kid_samples']} real training images, FID on {fid_n} "
        f"generated vs {s['real_samples']} real (biased upwards at this size: for comparing "
        f"variants), features `{s['features']}`. The curve's earlier points use "
        f"{s['curve_samples']} generated images. Logit gap: d_real - d_fake (D's mean logits on "
        "augmented reals and fakes) of the last logged interval.", "",
    ]
    groups = cpu_groups(results)
    if results.get("mixed_cpus"):
        lines += ["**Warning: mixed CPUs** (`--allow-other-cpu`): the budget is training time, so runs "
                  "on different CPUs trained for different step counts and are not comparable. "
                  + "; ".join(f"`{sig}`: {', '.join(keys)}" for sig, keys in groups.items()) + ".", ""]
    lines += [
        "## Per variant (final values, mean +- sample std over seeds)", "",
        "| variant | seeds | KID x1000 mean +- std | FID mean +- std | logit gap mean +- std "
        "| D Lipschitz mean +- std | steps mean |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, v in results["summary"].items():
        lines.append(f"| {name} | {v['n']} | {_pm(v['kid_x1000'], '.2f')} | {_pm(v['fid'], '.1f')} | "
                     f"{_pm(v['logit_gap'], '.3f')} | {_pm(v['lipschitz'], '.3g')} | "
                     f"{_fmt(v['steps']['mean'], '.0f')} |")
    lines += ["", best_line(results), "", "## Per run", "",
              f"| run | train min | wall min | steps | images seen | KID x1000 | FID{fid_n} | "
              "final D loss | logit gap | final Lipschitz |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key, r in results["runs"].items():
        if r.get("status") != "done":
            error = str(r.get("error", r.get("status", "not run"))).replace("|", "/").splitlines()[0]
            lines.append(f"| {key} | failed: {error} | | | | | | | | |")
            continue
        final = r["final"]
        lines.append(
            f"| {key} | {r['train_minutes']:.2f} | {_fmt(r.get('wall_seconds', 0) / 60, '.1f')} | "
            f"{r['steps']} | {r['images_seen']} | "
            f"{final['kid_x1000']:.2f} +- {_fmt(final['kid_std_x1000'], '.2f')} | {final['fid']:.1f} | "
            f"{_fmt(r['final_d_loss'], '.3f')} | {_fmt(r.get('final_logit_gap'), '.3f')} | "
            f"{_fmt(r['final_lipschitz'], '.3g')} |"
        )
    lines += ["", "Variants:", ""]
    lines += [f"- `{name}`: {VARIANTS[name][0]}" for name in results["summary"]]
    lines += ["", f"![Mean KID x1000 per variant, +- std over seeds]({KID_PLOT})", "",
              f"![KID x1000 against training minutes]({PLOT})", "",
              f"![D's loss and Lipschitz estimate against training minutes]({D_PLOT})", "",
              f"Command: `{results['command']}`", "",
              f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}; Python {m['python']}, "
              f"TensorFlow {m['tensorflow']}, Keras {m['keras']}. CPU signature(s) of the runs: "
              + "; ".join(f"`{sig}`" for sig in groups) + ".", ""]
    return "\n".join(lines)


def _pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def _save_png(fig, path):
    """Writes `fig` to `path` as PNG, atomically, and closes it."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    from vitgan_tf.training.callbacks import atomic_write  # noqa: PLC0415

    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"), suffix=".png")
    plt.close(fig)


LINESTYLES = ("-", "--", ":", "-.")


def _color(plt, variant):
    """The colour of `variant` in every plot."""
    return plt.get_cmap("tab10")(list(VARIANTS).index(variant) % 10)


def _style(plt, results, record):
    """Line style of a run (its line is labelled `variant/seedN`): colour per variant, dash per seed."""
    seeds = sorted({r["seed"] for r in results["runs"].values()})
    return {"color": _color(plt, record["variant"]),
            "linestyle": LINESTYLES[seeds.index(record["seed"]) % len(LINESTYLES)]}


def _run_legend(plt, fig, results, extra=()):
    """One figure legend right of the axes: a colour per variant, a dash per seed, then `extra`."""
    from matplotlib.lines import Line2D  # noqa: PLC0415

    runs = [r for r in results["runs"].values() if r.get("curve") or r.get("losses")]
    variants = list(dict.fromkeys(r["variant"] for r in runs))
    seeds = sorted({r["seed"] for r in results["runs"].values()})
    handles = [Line2D([], [], color=_color(plt, v), label=v) for v in variants]
    handles += [Line2D([], [], color="gray", linestyle=LINESTYLES[i % len(LINESTYLES)], label=f"seed {s}")
                for i, s in enumerate(seeds) if any(r["seed"] == s for r in runs)]
    handles += list(extra)
    if handles:
        fig.legend(handles=handles, loc="center right", fontsize="small")


def plot(results, path):
    """kid_vs_time.png: KID x1000 against training minutes and images seen, one line per run."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), dpi=120, sharey=True)
    for key, r in results["runs"].items():
        curve = r.get("curve") or []
        for ax, x in zip(axes, ("train_minutes", "images_seen")):
            if curve:
                ax.plot([p[x] for p in curve], [p["kid_x1000"] for p in curve], marker="o",
                        markersize=3, label=key, **_style(plt, results, r))
    axes[0].set_xlabel("training minutes (evaluation excluded)")
    axes[1].set_xlabel("images seen")
    axes[1].xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x / 1000:g}k"))
    axes[0].set_ylabel("KID x1000")
    for ax in axes:
        ax.grid(alpha=0.3)
    _run_legend(plt, fig, results)
    s = results["settings"]
    fig.suptitle(f"ViTGAN ablation, {RECIPE}, EMA generator: KID on {s['curve_samples']} "
                 f"(last point {s['kid_samples']}) generated images")
    fig.tight_layout(rect=(0, 0, 0.84, 1))
    _save_png(fig, path)


def plot_discriminator(results, path):
    """d_vs_time.png: D's loss and Lipschitz estimate against training minutes, one line per run."""
    plt = _pyplot()
    fig, (loss_ax, lip_ax) = plt.subplots(1, 2, figsize=(13, 4.5), dpi=120)
    for key, r in results["runs"].items():
        style = _style(plt, results, r)
        losses = [p for p in r.get("losses") or [] if "d_loss" in p]
        if losses:
            loss_ax.plot([p["train_minutes"] for p in losses], [p["d_loss"] for p in losses],
                         label=key, **style)
        lipschitz = r.get("lipschitz") or []
        if lipschitz:
            lip_ax.plot([p["train_minutes"] for p in lipschitz], [p["lipschitz"] for p in lipschitz],
                        label=key, **style)
    chance = loss_ax.axhline(2.0 * math.log(2.0), color="black", linestyle="--", linewidth=0.8,
                             label="log 4 (D at chance)")
    loss_ax.set_ylabel("D loss (mean over each logging interval)")
    lip_ax.set_ylabel("D's largest Jacobian norm (16 real images)")
    lip_ax.set_yscale("log")
    for ax in (loss_ax, lip_ax):
        ax.set_xlabel("training minutes (evaluation excluded)")
        ax.grid(alpha=0.3)
    _run_legend(plt, fig, results, extra=[chance])
    fig.suptitle(f"ViTGAN ablation, {RECIPE}: the discriminator over training")
    fig.tight_layout(rect=(0, 0, 0.84, 1))
    _save_png(fig, path)


def plot_kid_by_variant(results, path):
    """kid_by_variant.png: mean final KID x1000 +- std per variant (best first), seeds as dots."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    done = finished_runs(results)
    names = [n for n, v in results["summary"].items() if v["n"]]
    for x, name in enumerate(names):
        stats = results["summary"][name]["kid_x1000"]
        color = _color(plt, name)
        values = [r["final"]["kid_x1000"] for r in done.values() if r["variant"] == name]
        offsets = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else [0.0]
        ax.scatter(x + np.asarray(offsets) + 0.25, values, s=16, color=color, alpha=0.6,
                   label="one seed" if x == 0 else None)
        ax.errorbar([x], [stats["mean"]], yerr=[[stats["std"] or 0.0], [stats["std"] or 0.0]],
                    fmt="o", markersize=7, capsize=6, color=color,
                    label="mean +- std over seeds" if x == 0 else None)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([f"{n}\n({results['summary'][n]['n']} seeds)" for n in names], fontsize="small")
    ax.set_ylabel("final KID x1000")
    ax.grid(alpha=0.3, axis="y")
    if names:
        ax.legend(fontsize="small")
    s = results["settings"]
    fig.suptitle(f"ViTGAN ablation, {RECIPE}: final KID x1000 ({s['kid_samples']} samples), "
                 f"{s['minutes']:g} training minutes per run")
    fig.tight_layout()
    _save_png(fig, path)


def write_outputs(out, results):
    """Updates the summary, then writes results.json, ablation.md and the plots, each atomically."""
    from vitgan_tf.training.callbacks import atomic_write_text  # noqa: PLC0415

    results["summary"] = summarize(results)
    results["best"] = compare_to_best(results["summary"])
    results["mixed_cpus"] = len(cpu_groups(results)) > 1
    atomic_write_text(os.path.join(out, RESULTS), json.dumps(results, indent=2, allow_nan=True))
    atomic_write_text(os.path.join(out, TABLE), markdown(results))
    plot_kid_by_variant(results, os.path.join(out, KID_PLOT))
    plot(results, os.path.join(out, PLOT))
    plot_discriminator(results, os.path.join(out, D_PLOT))


# === Main ===


def resume_error(previous, comparable, path):
    """Why `previous` (a results.json) cannot be resumed with `comparable`, or None."""
    if "runs" not in previous:
        return (f"--resume: {path} has no \"runs\" (the single-seed layout of bench/ablation.py?); "
                "use --overwrite or another --out")
    if {k: previous.get(k) for k in comparable} != json.loads(json.dumps(comparable)):
        return (f"--resume: {path} was made with other settings or another config; rerun with "
                "the same options (--variants and --seeds may differ), or use --overwrite")
    return None


def cpu_mismatch(previous, signature, path):
    """Why the finished runs of `previous` are not comparable with runs on `signature`, or None."""
    others = sorted(set(cpu_groups(previous)) - {signature})
    if not others:
        return None
    return (f"this CPU is {signature!r} but finished runs in {path} ran on "
            f"{', '.join(map(repr, others))}; training-time budgets are not comparable across CPUs")


def main(argv=None, extractor=None):
    """Runs the ablation; returns 0 (all done), 1 (a run failed) or 2 (bad input).

    Args:
        argv: list of str or None (`sys.argv[1:]`).
        extractor: callable images -> features `[n, d]`, default None: the
            2015 Inception (`InceptionFeatureExtractor`). Another extractor
            (a cheap stand-in for tests) is never cached as Inception
            reference statistics.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    try:
        names = parse_variants(args.variants)
        seeds = parse_seeds(args.seeds)
        settings = resolve_settings(args)
        previous = check_out(args.out, args.overwrite, args.resume)
        config = resolve_config(args)
        reference_dataset(config)
    except (ValueError, FileExistsError, NotADirectoryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if extractor is None:
        from vitgan_tf.metrics.evaluation import FEATURES_ID  # noqa: PLC0415

        settings["features"] = FEATURES_ID
    else:
        settings["features"] = getattr(extractor, "__name__", type(extractor).__name__)
    comparable = {"settings": settings, "config": config}
    path = os.path.join(args.out, RESULTS)
    error = resume_error(previous, comparable, path) if previous is not None else None
    if error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    finished = finished_runs(previous or {})
    todo = [(n, s) for n, s in plan_runs(names, seeds) if run_key(n, s) not in finished]
    machine = machine_info()
    mismatch = cpu_mismatch(previous, machine["cpu_signature"], path) if previous and todo else None
    if mismatch and not args.allow_other_cpu:
        print(f"error: --resume: {mismatch}: resume on that CPU, or pass --allow-other-cpu",
              file=sys.stderr)
        return 2
    if mismatch:
        print(f"warning: --allow-other-cpu: {mismatch}; the results are marked mixed_cpus",
              file=sys.stderr, flush=True)
    if previous and not todo:  # nothing to train: the results stay those of the commands that made them
        results = previous
    else:
        results = {
            "command": shlex.join(["python", "-m", "recipes.ablation", *argv]),
            "machine": machine, **comparable, "seeds": seeds,
            "runs": dict(previous["runs"]) if previous else {},
        }
        if previous:
            results["earlier_commands"] = previous.get("earlier_commands", []) + [previous.get("command")]
    print(f"ablation: {len(todo)} run(s) to do ({', '.join(run_key(*t) for t in todo) or 'none'}), "
          f"{settings['minutes']:g} training minutes each, out {args.out}", flush=True)
    if todo:
        cache = extractor is None
        if extractor is None:
            from vitgan_tf.metrics.inception import InceptionFeatureExtractor  # noqa: PLC0415

            extractor = InceptionFeatureExtractor()
        try:
            real = reference(config, settings, extractor, cache)
            lipschitz_images = real_batch(config)
        except (ValueError, FileNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    for index, (name, seed) in enumerate(todo):
        key = run_key(name, seed)
        print(f"=== run {index + 1}/{len(todo)}: {key} ({VARIANTS[name][0]})", flush=True)
        record = {"status": "running", "variant": name, "seed": seed,
                  "description": VARIANTS[name][0], "overrides": VARIANTS[name][1],
                  "config": variant_config(config, name, seed), "machine": machine,
                  "curve": [], "losses": [], "lipschitz": []}
        results["runs"][key] = record
        try:
            run_variant(key, record["config"], settings, real, extractor, lipschitz_images,
                        args.out, record)
        except Exception as error:  # noqa: BLE001 - one run's crash must not stop the others
            record.update(status="failed", error=f"{type(error).__name__}: {error}",
                          traceback=traceback.format_exc())
            print(f"[{key}] FAILED: {record['error']}", file=sys.stderr, flush=True)
        write_outputs(args.out, results)
    if not todo:
        write_outputs(args.out, results)
    failed = [k for k, r in results["runs"].items() if r.get("status") != "done"]
    print(f"wrote {os.path.join(args.out, TABLE)}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
