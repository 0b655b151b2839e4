"""The ablation's arms (`VARIANTS`), its settings and the config of each run."""

import math


RECIPE = "fashion_mnist"


DEFAULT_SEEDS = "0,1,2"


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
    from ..train import resolve_config as resolve_recipe  # noqa: PLC0415

    for assignment in args.set:
        if assignment.split("=", 1)[0].strip() == "seed":
            raise ValueError(f"--set {assignment!r}: the ablation's seeds come from --seeds")
    # The runs evaluate on a training-time schedule (`variant_config`), not on steps.
    sets = ["train.eval_every=0", "train.final_eval_samples=0"]
    sets += list(SMOKE_SETS if args.smoke else ())
    sets += args.set
    config = resolve_recipe(RECIPE, sets=sets)
    config.pop("seed")
    return config


def variant_config(config, name, seed, settings=None):
    """The config of run (`name`, `seed`): `config` with variant `name`'s overrides and `seed`.

    `run.train` runs it with the budget and evaluations of `settings`
    (default `DEFAULTS`): `train.train_minutes` stops training (`train.steps`
    is only an upper bound); FID and KID on `curve_samples` every
    `eval_every_minutes` of training time, then FID on `fid_samples` and KID
    on `kid_samples` when the budget is spent, against `real_samples` real
    images; D's Lipschitz estimate every `log_every` steps.
    """
    from vitgan_tf.training import run  # noqa: PLC0415

    if name not in VARIANTS:
        raise ValueError(f"Unknown variant {name!r}. Choices: {list(VARIANTS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"Expected a seed int >= 0. Received: seed={seed!r}")
    settings = DEFAULTS if settings is None else settings
    config = run.merge(run.merge(config, BASELINE), VARIANTS[name][1])
    config["seed"] = seed
    train = config["train"]
    train.update({
        "steps": MAX_EPOCHS * train["log_every"], "train_minutes": settings["minutes"],
        "eval_every": 0, "eval_every_minutes": settings["eval_every_minutes"],
        "eval_samples": settings["curve_samples"], "final_eval_samples": settings["fid_samples"],
        "final_kid_samples": settings["kid_samples"], "eval_real_samples": settings["real_samples"],
        "lipschitz_every": None, "lipschitz_iterations": settings["lipschitz_iterations"],
    })
    return config
