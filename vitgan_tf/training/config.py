"""The run config: its schema, defaults, overrides, checks, and the GAN it builds.

Backend-neutral (it runs where TensorFlow is absent, as `bench/gpu_check.py`
on JAX); only `validate`'s check of an evaluation dataset reads the metrics.

`base_config()` is every key with its default; a recipe's `get_config()` is
merged over it (`merge`), `--set key=value` assignments go through `set_key`,
and `validate` checks keys, types and values before anything is built or
written, with errors that name the key. `vitgan_tf.training.run` trains a
resolved config.
"""

import copy
import inspect
import json

from vitgan_tf import limits
from vitgan_tf.models import DISCRIMINATORS
from vitgan_tf.models import presets
from vitgan_tf.models.discriminator import Discriminator
from vitgan_tf.models.generator import Generator
from vitgan_tf.models.stylegan2_discriminator import StyleGAN2Discriminator
from vitgan_tf.training.gan import ViTGAN, default_optimizer
from vitgan_tf.training.schedules import LinearWarmup

STRATEGIES = ("default", "mirrored", "multiworker")
POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
# Model sections: the keys each accepts (constructor arguments; `shared` goes to G and to
# a ViT D). `model.discriminator.architecture` picks D's class (`DISCRIMINATORS`); the
# section takes the keys of either class, and `validate` refuses those of the other one.
MODEL_SECTIONS = {
    "model.shared": presets.SHARED_KEYS,
    "model.generator": Generator.CONFIG_KEYS,
    "model.discriminator": ("architecture",) + Discriminator.CONFIG_KEYS + tuple(
        k for k in StyleGAN2Discriminator.CONFIG_KEYS if k not in Discriminator.CONFIG_KEYS),
}
# Keys that may also be null (their defaults are not): no EMA, no DiffAugment / bCR
# transform, no spectral normalisation.
NULLABLE_KEYS = ("gan.ema_decay", "gan.augment_policy", "gan.bcr_policy",
                 "model.discriminator.spectral_norm")
# Types accepted besides the default's own (an initializer may be a Keras config dict; a
# policy a list of op names).
EXTRA_TYPES = {"patch_kernel_initializer": (dict,), "jit_compile": (bool,),
               "augment_policy": (list,), "bcr_policy": (list,), "augment_p": (dict,)}

# Keys that may change when resuming a run (everything else must match).
RESUMABLE_KEYS = ("train.steps", "train.train_minutes", "train.deterministic")


def _defaults(function, skip=()):
    """{argument: default} of `function`'s keyword arguments with a default."""
    return {
        name: param.default for name, param in inspect.signature(function).parameters.items()
        if param.default is not inspect.Parameter.empty and name not in skip
    }


def base_config():
    """Every key of a run config with its default: the paper's GAN settings on the
    `tiny` preset and synthetic data (recipes override them).

    `gan` and `optimizer` defaults are read from `ViTGAN` and
    `default_optimizer`, so they live in one place; `model.*` sections hold
    overrides of the preset (keys: `MODEL_SECTIONS`).
    """
    adam = _defaults(default_optimizer, skip=("name",))
    return {
        "recipe": None,
        "seed": 0,
        "model": {"preset": "tiny", "shared": {}, "generator": {}, "discriminator": {}},
        "data": {"source": "synthetic", "batch_size": 128},
        "gan": _defaults(ViTGAN.__init__, skip=("ema_generator", "seed", "kwargs")),
        "optimizer": {"g_lr": adam["learning_rate"], "d_lr": adam["learning_rate"],
                      "beta_1": adam["beta_1"], "beta_2": adam["beta_2"],
                      # Linear learning-rate warm-up over this many steps of each optimizer
                      # (`LinearWarmup`); 0: none.
                      "warmup_steps": 0},
        "train": {
            "steps": 1000, "log_every": 100, "sample_every": 500, "num_samples": 64,
            # Training-time budget in minutes (train steps alone, summed over resumes; the
            # run stops at the first log_every boundary past it); None: train.steps only.
            "train_minutes": None,
            "lipschitz_every": None,  # None: every log_every steps; 0: off
            "lipschitz_iterations": 10,  # power-iteration steps of each Lipschitz estimate
            # FID/KID of the EMA G against real training images (vitgan_tf.metrics):
            "eval_every": 0,  # steps between evaluations (a multiple of log_every); 0: off
            # Also (or instead) evaluate every this many minutes of TRAINING time (at the
            # first log_every boundary past each multiple); None: off.
            "eval_every_minutes": None,
            "eval_samples": 2000,  # generated images per evaluation (KID on all of them)
            "final_eval_samples": 0,  # generated images for FID at the last step; 0: off
            # Images for KID at the last step; None: eval_samples when there is a curve
            # (eval_every or eval_every_minutes), else 0.
            "final_kid_samples": None,
            "eval_real_samples": 10000,  # real training images of the reference statistics
            "precision": "float32", "jit_compile": "auto", "strategy": "default",
            # True: `tf.config.experimental.enable_op_determinism()`, so that two runs of one
            # config on one machine give the same bits (slower; for the whole process). False:
            # the same seeds and randomness, but multi-threaded float sums may differ in the
            # last bits between runs (d_loss 1.589059 vs 1.589069 after 100 steps).
            "deterministic": False,
        },
    }


def merge(base, updates):
    """Recursive dict update (returns a new dict)."""
    out = copy.deepcopy(base)
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_value(text):
    """`--set` value: JSON if it parses (numbers, true, null, lists), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def set_key(config, assignment):
    """Applies one `key.path=value` to `config` in place; unknown keys raise."""
    if "=" not in assignment:
        raise ValueError(f"Expected --set key=value, received {assignment!r}")
    path, text = assignment.split("=", 1)
    parts = path.strip().split(".")
    node = config
    for depth, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or part not in node:
            raise ValueError(f"Unknown config key {'.'.join(parts[:depth + 1])!r} in --set {assignment!r}")
        node = node[part]
    parent, leaf = ".".join(parts[:-1]), parts[-1]
    choices = _section_keys(parent, node)
    if not isinstance(node, dict) or leaf not in choices:
        raise ValueError(f"Unknown config key {path!r} in --set {assignment!r}. "
                         f"Choices: {sorted(choices)}")
    node[leaf] = parse_value(text)


def _section_keys(path, node):
    """The keys section `path` accepts (`node`: its current dict)."""
    if path in MODEL_SECTIONS:
        return MODEL_SECTIONS[path]
    return tuple(node) if isinstance(node, dict) else ()


def _model_defaults(section, preset):
    """{key: default} of a model section, from the preset and the constructors."""
    preset = presets.get_preset(preset) if preset in presets.PRESETS else {}
    owners = {"model.generator": (Generator,),
              "model.discriminator": (StyleGAN2Discriminator, Discriminator),
              "model.shared": (Generator, Discriminator)}[section]
    out = {"architecture": "vit"}
    for owner in owners:
        out.update(_defaults(owner.__init__, skip=("kwargs",)))
    out.update(preset)
    return {key: out.get(key) for key in MODEL_SECTIONS[section]}


def _type_name(value):
    return "null" if value is None else type(value).__name__


def _check_type(path, value, default):
    """Raises ValueError naming `path` unless `value` has the type of `default`."""
    leaf = path.rsplit(".", 1)[-1]
    if default is None or (value is None and path in NULLABLE_KEYS):
        return
    if isinstance(value, EXTRA_TYPES.get(leaf, ())):  # e.g. a dict of per-op probabilities
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ValueError(f"Config key {path!r} expects a {_type_name(default)} (like its default "
                         f"{default!r}). Received: {value!r} ({_type_name(value)})")


def check_keys(config, defaults=None, prefix=""):
    """Refuses unknown keys at any depth and values of the wrong type, naming the key.

    `defaults` is `base_config()` (at the top); model sections are checked
    against the preset's values and the constructors' defaults.
    """
    defaults = base_config() if defaults is None else defaults
    if not isinstance(config, dict):
        raise ValueError(f"Config {prefix.rstrip('.') or 'root'} must be a dict. Received: {config!r}")
    for key, value in config.items():
        path = prefix + key
        if path in MODEL_SECTIONS:
            preset = config.get("preset")
            section_defaults = _model_defaults(path, preset)
            if not isinstance(value, dict):
                raise ValueError(f"Config key {path!r} must be a dict. Received: {value!r}")
            for leaf, leaf_value in value.items():
                if leaf not in section_defaults:
                    raise ValueError(f"Unknown config key {path + '.' + leaf!r}. "
                                     f"Choices: {sorted(section_defaults)}")
                _check_type(f"{path}.{leaf}", leaf_value, section_defaults[leaf])
            continue
        if key not in defaults:
            where = f"in {prefix.rstrip('.')!r}" if prefix else "at the top level"
            raise ValueError(f"Unknown config key {path!r} ({where}). Choices: {sorted(defaults)}")
        default = defaults[key]
        if isinstance(default, dict):
            check_keys(value, default, path + ".")
        elif isinstance(value, dict) and dict not in EXTRA_TYPES.get(key, ()):
            raise ValueError(f"Config key {path!r} is not a section. Received: {value!r}")
        else:
            _check_type(path, value, default)
    if prefix == "model." and config.get("preset") not in presets.PRESETS:
        raise ValueError(f"Unknown model.preset {config.get('preset')!r}. "
                         f"Choices: {sorted(presets.PRESETS)}")


def validate(config):
    """Checks keys, types and values that would otherwise fail late; raises
    ValueError naming the key."""
    check_keys(config)
    train = config["train"]
    for key in ("steps", "log_every", "sample_every"):
        if not isinstance(train[key], int) or train[key] <= 0:
            raise ValueError(f"Expected a positive integer train.{key}. Received: {train[key]!r}")
        limits.check_count(f"train.{key}", train[key], 1, limits.MAX_STEPS)
    limits.check_count("train.num_samples", train["num_samples"], 1, limits.MAX_GRID_IMAGES)
    minutes = train.get("train_minutes")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, (int, float))
                                or not minutes > 0):
        raise ValueError(f"Expected train.train_minutes > 0 or null. Received: {minutes!r}")
    every = train.get("lipschitz_every")
    if every is not None and (not isinstance(every, int) or every < 0):
        raise ValueError(f"Expected train.lipschitz_every >= 0 or None. Received: {every!r}")
    limits.check_count("train.lipschitz_iterations", train.get("lipschitz_iterations", 10), 1, 1000)
    for key in ("eval_every", "eval_samples", "final_eval_samples", "eval_real_samples"):
        if not isinstance(train[key], int) or train[key] < 0:
            raise ValueError(f"Expected an integer train.{key} >= 0. Received: {train[key]!r}")
        high = limits.MAX_STEPS if key == "eval_every" else limits.MAX_EVAL_SAMPLES
        limits.check_count(f"train.{key}", train[key], 0, high)
    final_kid = train.get("final_kid_samples")
    if final_kid is not None:
        limits.check_count("train.final_kid_samples", final_kid, 0, limits.MAX_EVAL_SAMPLES)
        if final_kid == 1 or final_kid > train["final_eval_samples"]:
            raise ValueError(
                f"Expected train.final_kid_samples 0, or in [2, train.final_eval_samples="
                f"{train['final_eval_samples']}] (KID uses the final FID's first images). "
                f"Received: {final_kid}")
    minutes = train.get("eval_every_minutes")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, (int, float))
                                or not 0 < minutes <= 10**6):
        raise ValueError(f"Expected train.eval_every_minutes > 0 or null. Received: {minutes!r}")
    if train["eval_every"] or train["final_eval_samples"] or minutes:
        from vitgan_tf.metrics.datasets import DATASETS  # noqa: PLC0415  (TensorFlow's side)

        if config["data"]["source"] not in DATASETS:
            raise ValueError(
                f"train.eval_every / eval_every_minutes / final_eval_samples need a real dataset with "
                f"reference statistics {tuple(DATASETS)}; data.source is "
                f"{config['data']['source']!r} (set both to 0)"
            )
        if train["eval_every"] and train["eval_every"] % min(train["log_every"], train["steps"]):
            raise ValueError(
                f"train.eval_every={train['eval_every']} must be a multiple of "
                f"train.log_every={train['log_every']} (results are logged at epoch ends)"
            )
        if train["eval_samples"] < 2 or train["eval_real_samples"] < 2:
            raise ValueError("train.eval_samples and train.eval_real_samples must be >= 2")
    if train["strategy"] not in STRATEGIES:
        raise ValueError(f"Unknown train.strategy={train['strategy']!r}. Choices: {STRATEGIES}")
    if train["precision"] not in POLICIES:
        raise ValueError(f"Unknown train.precision={train['precision']!r}. Choices: {POLICIES}")
    batch = config["data"]["batch_size"]
    if not isinstance(batch, int) or batch <= 0:
        raise ValueError(f"Expected a positive integer data.batch_size. Received: {batch!r}")
    limits.check_count("data.batch_size", batch, 1, limits.MAX_BATCH_SIZE)
    optimizer = config["optimizer"]
    warmup = optimizer["warmup_steps"]
    if warmup < 0 or warmup > 10**8:
        raise ValueError(f"Expected optimizer.warmup_steps in [0, 1e8]. Received: {warmup!r}")
    for key in ("g_lr", "d_lr"):
        if not 0 < optimizer[key] < float("inf"):  # also refuses nan
            raise ValueError(f"Expected a finite optimizer.{key} > 0. Received: {optimizer[key]!r}")
    # beta_1 < 0 is negative momentum (Gidel et al. 2019); at +-1 or beyond Adam's first
    # moment no longer forgets. beta_2 = 1 divides by zero in Adam's bias correction.
    if not -1 < optimizer["beta_1"] < 1:
        raise ValueError(f"Expected optimizer.beta_1 in (-1, 1). Received: {optimizer['beta_1']!r}")
    if not 0 <= optimizer["beta_2"] < 1:
        raise ValueError(f"Expected optimizer.beta_2 in [0, 1). Received: {optimizer['beta_2']!r}")
    group = config["model"].get("discriminator", {}).get("mbstd_group_size", 0)
    if discriminator_class(config["model"]) is Discriminator and group and batch % group:
        raise ValueError(
            f"data.batch_size={batch} is not a multiple of model.discriminator.mbstd_group_size="
            f"{group}: the ViT D's stddev groups are consecutive images of one batch segment")


def discriminator_class(model):
    """D's class for a config's `model` section (`model.discriminator.architecture`)."""
    architecture = model.get("discriminator", {}).get("architecture", "vit")
    if architecture not in DISCRIMINATORS:
        raise ValueError(f"Unknown model.discriminator.architecture={architecture!r}. "
                         f"Choices: {sorted(DISCRIMINATORS)}")
    return DISCRIMINATORS[architecture]


def unused_discriminator_keys(model):
    """The `model.discriminator` keys that only the other architecture takes.

    A recipe may hold both architectures' keys, so that the other D is one
    `--set model.discriminator.architecture=...` away; `train` names the
    unused ones when it starts.
    """
    cls = discriminator_class(model)
    section = model.get("discriminator", {})
    return sorted(set(section) - {"architecture"} - set(cls.CONFIG_KEYS))


def schedule(config):
    """(epochs, steps_per_epoch): Keras epochs of `log_every` steps."""
    steps, log_every = config["train"]["steps"], config["train"]["log_every"]
    log_every = min(log_every, steps)
    if steps % log_every:
        raise ValueError(
            f"train.steps={steps} must be a multiple of train.log_every={log_every} "
            "(one Keras epoch = log_every steps: metrics, checkpoint and backup)"
        )
    return steps // log_every, log_every


def comparable(config):
    """The config without the keys that may change on resume."""
    config = copy.deepcopy(config)
    for key in RESUMABLE_KEYS:
        section, leaf = key.split(".")
        config.get(section, {}).pop(leaf, None)
    return config


def build_gan(config):
    """Generator, discriminator and ViTGAN (compiled) of a resolved config."""
    model = config["model"]
    shared = model.get("shared", {})
    generator = Generator.from_architecture(model["preset"], **{**shared, **model.get("generator", {})})
    d_class = discriminator_class(model)
    d_config = {k: v for k, v in model.get("discriminator", {}).items()
                if k in d_class.CONFIG_KEYS}
    if d_class is Discriminator:
        d_config = {**shared, **d_config}
    discriminator = d_class.from_architecture(model["preset"], **d_config)
    gan = ViTGAN(generator, discriminator, seed=config["seed"], **config["gan"])
    opt = config["optimizer"]
    betas = dict(beta_1=opt["beta_1"], beta_2=opt["beta_2"])
    warmup = opt.get("warmup_steps", 0)

    def rate(lr):
        return LinearWarmup(lr, warmup) if warmup else lr

    gan.compile(
        g_optimizer=default_optimizer(rate(opt["g_lr"]), name="g_adam", **betas),
        d_optimizer=default_optimizer(rate(opt["d_lr"]), name="d_adam", **betas),
        jit_compile=config["train"]["jit_compile"],
    )
    return gan
