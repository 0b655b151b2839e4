"""ViTGAN ablation: which of the paper's tricks make the ViT discriminator train.

    python bench/ablation.py --out runs/ablation                  # 5 variants x 20 training minutes
    python bench/ablation.py --minutes 5 --variants full,no_bcr --out runs/ablation_5min
    python bench/ablation.py --out runs/ablation --resume         # finish an interrupted ablation
    python bench/ablation.py --smoke --out /tmp/ablation_smoke    # tiny model, seconds per variant

Every variant trains the `fashion_mnist` recipe (recipes/fashion_mnist.py,
with `BASELINE`'s ISN and EMA decay 0.995, plus `--set` overrides) with the same data, model size and seed for the
same budget of TRAINING time (`--minutes`): time spent in training steps,
counted by `vitgan_tf.training.callbacks.TrainTimeBudget`; evaluations,
Lipschitz estimates and epoch-end checkpoints are not counted. Variants:

    full            L2 attention (tied W_q = W_k) + ISN + bCR + DiffAugment (the paper's recipe)
    dot_attention   D with dot-product attention (separate W_q, W_k), the naive ViT D
    plain_sn        D with plain spectral normalisation (sigma = 1) instead of ISN
    no_bcr          bCR off (lambda_real = lambda_fake = 0)
    no_diffaugment  DiffAugment off (empty policy)

Metrics, all of the EMA generator against real-train Inception features
(the 2015 Inception, SPEC.md; reference statistics computed once, cached
and shared by the variants):
- at the end: KID x1000 (unbiased, +- TF-GAN's block std) on `--kid-samples`
  generated vs as many real images, and FID on `--fid-samples` generated
  images (KID uses the first `--kid-samples` of them) vs `--real-samples`
  real. FID is biased upwards at a few thousand samples (and its covariance
  is singular below 2048): compare variants with it, not papers;
- every `--eval-every-minutes` of training time before the end: KID and FID
  from the features of `--curve-samples` generated images (a cheaper,
  noisier curve; KID stays unbiased);
- D's losses (the trackers' means over each `train.log_every` steps) and
  D's Lipschitz estimate (`LipschitzMonitor`, every `train.log_every`
  steps, on a fixed batch of 16 real images) against training time.

Outputs in `--out`: `results.json` (everything, rewritten after each
variant), `ablation.md` (table, command, machine), `kid_vs_time.png`,
`d_vs_time.png` (D's loss and Lipschitz estimate against training time),
`samples_{variant}.png` (64 EMA samples, fixed latents) and `runs/{variant}/`
(the run folder of `recipes.train`: checkpoints, metrics.jsonl, TensorBoard).
A variant that crashes is recorded as failed and the others go on; `--resume`
keeps finished variants and retrains the others from scratch (with every variant
finished, it only rewrites the table and plots from `results.json`).

Hardware: 2 CPU cores. Wall time, measured with the defaults on a quiet
machine: Inception runs at ~21 images/s (10k reference images took 8 min;
they are cached after the first run), so a variant takes 20 min training +
3 x ~1 min (curve) + ~1.7 min (final, 2000 images) + ~1 min (start, tracing,
Lipschitz estimates) ~= 26 min: about 2.3 hours for the five.
`--eval-every-minutes 10` saves ~2 min per variant.
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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

RECIPE = "fashion_mnist"
RESULTS = "results.json"
TABLE = "ablation.md"
PLOT = "kid_vs_time.png"
D_PLOT = "d_vs_time.png"
NUM_GRID_SAMPLES = 64
LIPSCHITZ_BATCH = 16
MIN_KID_SAMPLES = 2000
# train.steps is only an upper bound: the time budget stops training.
MAX_EPOCHS = 10**6

# Merged into the recipe config before each variant's overrides: the ablation's baseline is
# the paper's D (ISN; the recipe itself now uses plain SN, which won this ablation) and the
# short-run EMA decay of the runs in docs/ablation.
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
}

DEFAULTS = {"minutes": 20.0, "eval_every_minutes": 5.0, "kid_samples": MIN_KID_SAMPLES,
            "fid_samples": MIN_KID_SAMPLES, "curve_samples": 1000, "real_samples": 10000,
            "lipschitz_iterations": 10}
# --smoke: a tiny model for a few seconds per variant, few samples (tests).
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
        prog="python bench/ablation.py", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default=os.path.join("runs", "ablation"),
                        help="output folder (default runs/ablation)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated subset of {','.join(VARIANTS)} (default: all)")
    parser.add_argument("--minutes", type=float,
                        help="training minutes per variant, evaluation excluded (default 20)")
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
    parser.add_argument("--seed", type=int, help="seed of every variant (default: the recipe's, 0)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe config entry, e.g. --set data.batch_size=64 (repeatable)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny model, seconds per variant, few samples (a plumbing test)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--overwrite", action="store_true", help="replace an existing results.json")
    mode.add_argument("--resume", action="store_true",
                      help="keep the finished variants of an existing results.json, run the others")
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


def resolve_settings(args):
    """The evaluation / budget settings of the parsed arguments (checked)."""
    defaults = SMOKE_DEFAULTS if args.smoke else DEFAULTS
    settings = {key: getattr(args, key) if getattr(args, key) is not None else value
                for key, value in defaults.items()}
    settings["smoke"] = bool(args.smoke)
    for key in ("minutes", "eval_every_minutes"):
        value = settings[key]
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"Expected --{key.replace('_', '-')} > 0. Received: {value!r}")
    if settings["lipschitz_iterations"] <= 0:
        raise ValueError(f"Expected --lipschitz-iterations > 0. Received: {settings['lipschitz_iterations']}")
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
    """The recipe config with --smoke, --seed and --set applied (recipes.train's resolver)."""
    from recipes.train import resolve  # noqa: PLC0415

    # This script evaluates on its own time schedule, not the run's step schedule.
    sets = ["train.eval_every=0", "train.final_eval_samples=0"]
    sets += list(SMOKE_SETS if args.smoke else ())
    if args.seed is not None:
        sets.append(f"seed={args.seed}")
    sets += args.set
    return resolve(argparse.Namespace(recipe=RECIPE, steps=None, batch_size=None,
                                      strategy=None, set=sets))


def variant_config(config, name):
    """`config` with variant `name`'s overrides; training runs until the time budget stops it."""
    from vitgan_tf.training import run  # noqa: PLC0415

    if name not in VARIANTS:
        raise ValueError(f"Unknown variant {name!r}. Choices: {list(VARIANTS)}")
    config = run.merge(run.merge(config, BASELINE), VARIANTS[name][1])
    config["train"]["steps"] = MAX_EPOCHS * config["train"]["log_every"]
    config["train"]["eval_every"] = config["train"]["final_eval_samples"] = 0  # see resolve_config
    config["train"]["lipschitz_every"] = 0  # run_variant adds its own monitor (it keeps the curve)
    return config


def check_out(out, overwrite=False, resume=False):
    """Checks `--out` before anything is written; returns the results to resume or None."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise FileExistsError(f"--out {out!r} exists and is not a folder")
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
    raise FileExistsError(f"{path} exists: pass --resume to finish its variants, --overwrite "
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


def real_batch(config, count=LIPSCHITZ_BATCH):
    """The first `count` training images of the config's data (float32 in [-1, 1])."""
    from vitgan_tf import data as data_lib  # noqa: PLC0415

    size, channels = image_shape(config)
    dataset = data_lib.make_dataset(config["data"]["source"], size, channels, count,
                                    seed=config["seed"])
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
    """Real-train Inception statistics (cached when `cache`), shared by every variant."""
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
        """One variant's curves against TRAINING time; evaluations on a time schedule.

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


# === One variant ===


def run_variant(name, config, settings, real, extractor, lipschitz_images, out, record):
    """Trains variant `name` for the budget and evaluates it; fills and returns `record`."""
    from vitgan_tf.images import save_grid  # noqa: PLC0415
    from vitgan_tf.lipschitz import LipschitzMonitor  # noqa: PLC0415
    from vitgan_tf.metrics.evaluation import generator_batches  # noqa: PLC0415
    from vitgan_tf.training import callbacks, run  # noqa: PLC0415

    start = time.perf_counter()
    run_dir = os.path.join(out, "runs", name)
    if os.path.isdir(run_dir):  # an unfinished or replaced attempt: start from scratch
        shutil.rmtree(run_dir)
    record["run_dir"] = os.path.relpath(run_dir, out)
    seed, curve_samples = config["seed"], settings["curve_samples"]
    batch_size, log_every = config["data"]["batch_size"], config["train"]["log_every"]

    def evaluate_fn(generator, num_samples=curve_samples, kid_samples=curve_samples):
        return evaluate(generator, real, extractor, num_samples, kid_samples, seed)

    budget = callbacks.TrainTimeBudget(settings["minutes"] * 60.0)
    monitor = LipschitzMonitor(lipschitz_images, every_n_steps=log_every,
                               num_iterations=settings["lipschitz_iterations"])
    recorder = make_recorder(name, budget, batch_size, settings["eval_every_minutes"] * 60.0,
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
    save_grid(samples, os.path.join(out, f"samples_{name}.png"))
    record.update({
        "status": "done", **point, "steps": step, "budget_minutes": settings["minutes"],
        "train_seconds": round(budget.elapsed, 3), "budget_seconds": settings["minutes"] * 60.0,
        "max_step_seconds": round(budget.max_step_seconds, 4),
        "eval_seconds": round(sum(p["eval_seconds"] for p in record["curve"]), 2),
        "wall_seconds": round(time.perf_counter() - start, 1),
        "final": final, "final_d_loss": record["losses"][-1].get("d_loss") if record["losses"] else None,
        "final_lipschitz": record["lipschitz"][-1]["lipschitz"], "samples": f"samples_{name}.png",
    })
    print(f"[{name}] done: {step} steps in {budget.elapsed / 60:.2f} train min, KIDx1000 "
          f"{final['kid_x1000']:.2f} +- {final['kid_std_x1000']:.2f}, FID{final['fid_samples']} "
          f"{final['fid']:.1f} ({record['wall_seconds'] / 60:.1f} min wall)", flush=True)
    return record


# === Outputs ===


def machine_info():
    """CPU, core count and library versions of this machine."""
    import keras  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__}


def _fmt(value, spec):
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def markdown(results):
    """ablation.md: the table, the command, the machine and the settings."""
    s, m = results["settings"], results["machine"]
    fid_n = s["fid_samples"]
    lines = [
        "# ViTGAN ablation", "",
        f"Recipe `{RECIPE}`, {s['minutes']:g} training minutes per variant (evaluation excluded), "
        f"seed {results['config']['seed']}. EMA generator; KID x1000 (unbiased, +- TF-GAN's std) on "
        f"{s['kid_samples']} generated vs {s['kid_samples']} real training images, FID on {fid_n} "
        f"generated vs {s['real_samples']} real (biased upwards at this size: for comparing "
        f"variants), features `{s['features']}`. The curve's earlier points use "
        f"{s['curve_samples']} generated images.", "",
        f"| variant | train min | steps | images seen | KID x1000 | FID{fid_n} | final D loss | final Lipschitz |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results["variants"].items():
        if r.get("status") != "done":
            error = str(r.get("error", r.get("status", "not run"))).replace("|", "/").splitlines()[0]
            lines.append(f"| {name} | failed: {error} | | | | | | |")
            continue
        final = r["final"]
        lines.append(
            f"| {name} | {r['train_minutes']:.2f} | {r['steps']} | {r['images_seen']} | "
            f"{final['kid_x1000']:.2f} +- {final['kid_std_x1000']:.2f} | {final['fid']:.1f} | "
            f"{_fmt(r['final_d_loss'], '.3f')} | {_fmt(r['final_lipschitz'], '.3g')} |"
        )
    lines += ["", "Variants:", ""]
    lines += [f"- `{name}`: {VARIANTS[name][0]}" for name in results["variants"]]
    lines += ["", f"![KID x1000 against training minutes]({PLOT})", "",
              f"![D's loss and Lipschitz estimate against training minutes]({D_PLOT})", "",
              f"Command: `{results['command']}`", "",
              f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}; Python {m['python']}, "
              f"TensorFlow {m['tensorflow']}, Keras {m['keras']}.", ""]
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


def plot(results, path):
    """kid_vs_time.png: KID x1000 (+- std) against training minutes, one line per variant."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), dpi=120, sharey=True)
    for name, r in results["variants"].items():
        curve = r.get("curve") or []
        for ax, key in zip(axes, ("train_minutes", "images_seen")):
            if curve:
                ax.errorbar([p[key] for p in curve], [p["kid_x1000"] for p in curve],
                            yerr=[p["kid_std_x1000"] for p in curve], marker="o", capsize=3,
                            label=name)
    axes[0].set_xlabel("training minutes (evaluation excluded)")
    axes[1].set_xlabel("images seen")
    axes[1].xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x / 1000:g}k"))
    axes[0].set_ylabel("KID x1000 (+- std)")
    for ax in axes:
        ax.grid(alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend()
    s = results["settings"]
    fig.suptitle(f"ViTGAN ablation, {RECIPE}, EMA generator: KID on {s['curve_samples']} "
                 f"(last point {s['kid_samples']}) generated images")
    fig.tight_layout()
    _save_png(fig, path)


def plot_discriminator(results, path):
    """d_vs_time.png: D's loss and Lipschitz estimate against training minutes, per variant."""
    plt = _pyplot()
    fig, (loss_ax, lip_ax) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=120)
    for name, r in results["variants"].items():
        losses = [p for p in r.get("losses") or [] if "d_loss" in p]
        if losses:
            loss_ax.plot([p["train_minutes"] for p in losses], [p["d_loss"] for p in losses],
                         marker=".", label=name)
        lipschitz = r.get("lipschitz") or []
        if lipschitz:
            lip_ax.plot([p["train_minutes"] for p in lipschitz], [p["lipschitz"] for p in lipschitz],
                        marker=".", label=name)
    loss_ax.axhline(2.0 * math.log(2.0), color="gray", linestyle="--", linewidth=1,
                    label="log 4 (D at chance)")
    loss_ax.set_ylabel("D loss (mean over each logging interval)")
    lip_ax.set_ylabel("D's largest Jacobian norm (16 real images)")
    lip_ax.set_yscale("log")
    for ax in (loss_ax, lip_ax):
        ax.set_xlabel("training minutes (evaluation excluded)")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    fig.suptitle(f"ViTGAN ablation, {RECIPE}: the discriminator over training")
    fig.tight_layout()
    _save_png(fig, path)


def write_outputs(out, results):
    """results.json, ablation.md, kid_vs_time.png and d_vs_time.png, each written atomically."""
    from vitgan_tf.training.callbacks import atomic_write_text  # noqa: PLC0415

    atomic_write_text(os.path.join(out, RESULTS), json.dumps(results, indent=2, allow_nan=True))
    atomic_write_text(os.path.join(out, TABLE), markdown(results))
    plot(results, os.path.join(out, PLOT))
    plot_discriminator(results, os.path.join(out, D_PLOT))


# === Main ===


def main(argv=None, extractor=None):
    """Runs the ablation; returns 0 (all done), 1 (a variant failed) or 2 (bad input).

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
        settings = resolve_settings(args)
        previous = check_out(args.out, args.overwrite, args.resume)
        config = resolve_config(args)
        reference_dataset(config)
    except (ValueError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if extractor is None:
        from vitgan_tf.metrics.evaluation import FEATURES_ID  # noqa: PLC0415

        settings["features"] = FEATURES_ID
    else:
        settings["features"] = getattr(extractor, "__name__", type(extractor).__name__)
    comparable = {"settings": settings, "config": config}
    if previous is not None and {k: previous.get(k) for k in comparable} != json.loads(json.dumps(comparable)):
        print(f"error: --resume: {os.path.join(args.out, RESULTS)} was made with other settings "
              "or another config; rerun with the same options, or use --overwrite", file=sys.stderr)
        return 2

    finished = {n for n, r in (previous or {}).get("variants", {}).items() if r.get("status") == "done"}
    todo = [n for n in names if n not in finished]
    if previous and not todo:  # nothing to train: the results stay those of the commands that made them
        results = previous
    else:
        results = {
            "command": shlex.join(["python", "bench/ablation.py", *argv]),
            "machine": machine_info(), **comparable,
            "variants": dict(previous["variants"]) if previous else {},
        }
        if previous:
            results["earlier_commands"] = previous.get("earlier_commands", []) + [previous.get("command")]
    print(f"ablation: {len(todo)} variant(s) to run ({', '.join(todo) or 'none'}), "
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
    for index, name in enumerate(todo):
        print(f"=== variant {index + 1}/{len(todo)}: {name} ({VARIANTS[name][0]})", flush=True)
        record = {"status": "running", "description": VARIANTS[name][0],
                  "overrides": VARIANTS[name][1], "config": variant_config(config, name),
                  "curve": [], "losses": [], "lipschitz": []}
        results["variants"][name] = record
        try:
            run_variant(name, record["config"], settings, real, extractor, lipschitz_images,
                        args.out, record)
        except Exception as error:  # noqa: BLE001 - one variant's crash must not stop the others
            record.update(status="failed", error=f"{type(error).__name__}: {error}",
                          traceback=traceback.format_exc())
            print(f"[{name}] FAILED: {record['error']}", file=sys.stderr, flush=True)
        write_outputs(args.out, results)
    if not todo:
        write_outputs(args.out, results)
    failed = [n for n, r in results["variants"].items() if r.get("status") != "done"]
    print(f"wrote {os.path.join(args.out, TABLE)}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
