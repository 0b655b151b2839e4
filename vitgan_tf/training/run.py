"""A training run: config -> strategy, data, ViTGAN, callbacks, `fit`.

`train(config, out_dir)` is what `python -m recipes.train` calls. The run
folder holds `config.json`, `samples_{step:06d}.png`, `metrics.jsonl`,
`tensorboard/`, `checkpoints/` and `backup/` (Keras `BackupAndRestore`).
Running the same config on the same folder again resumes where the last
run stopped (even after `kill -9`), with the batches an uninterrupted run
sees (at once for indexed sources, by replaying a tfds stream; see
`vitgan_tf.data`).
"""

import copy
import errno
import inspect
import json
import os
import sys

import keras
import tensorflow as tf

from vitgan_tf import data as data_lib
from vitgan_tf.models import DISCRIMINATORS
from vitgan_tf.models.discriminator import Discriminator
from vitgan_tf.models import presets
from vitgan_tf.models.stylegan2_discriminator import StyleGAN2Discriminator
from vitgan_tf.models.generator import Generator
from vitgan_tf.lipschitz import LipschitzMonitor
from vitgan_tf import limits
from vitgan_tf import runs
from vitgan_tf.io import check_output_folder
from vitgan_tf.runs import RunFolder
from vitgan_tf.training import callbacks as callbacks_lib
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
# Real images on which LipschitzMonitor estimates D's Jacobian norm.
LIPSCHITZ_BATCH = 16

# data.source values with FID/KID reference statistics (vitgan_tf.metrics.datasets).
EVAL_DATASETS = ("fashion_mnist",)

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
            # FID/KID of the EMA G against real training images (vitgan_tf.metrics):
            "eval_every": 0,  # steps between evaluations (a multiple of log_every); 0: off
            # Also (or instead) evaluate every this many minutes of TRAINING time (at the
            # first log_every boundary past each multiple); None: off.
            "eval_every_minutes": None,
            "eval_samples": 2000,  # generated images per evaluation (KID on all of them)
            "final_eval_samples": 0,  # generated images for FID at the last step; 0: off
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
    for key in ("eval_every", "eval_samples", "final_eval_samples", "eval_real_samples"):
        if not isinstance(train[key], int) or train[key] < 0:
            raise ValueError(f"Expected an integer train.{key} >= 0. Received: {train[key]!r}")
        high = limits.MAX_STEPS if key == "eval_every" else limits.MAX_EVAL_SAMPLES
        limits.check_count(f"train.{key}", train[key], 0, high)
    minutes = train.get("eval_every_minutes")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, (int, float))
                                or not 0 < minutes <= 10**6):
        raise ValueError(f"Expected train.eval_every_minutes > 0 or null. Received: {minutes!r}")
    if train["eval_every"] or train["final_eval_samples"] or minutes:
        if config["data"]["source"] not in EVAL_DATASETS:
            raise ValueError(
                f"train.eval_every / eval_every_minutes / final_eval_samples need a real dataset with "
                f"reference statistics {EVAL_DATASETS}; data.source is "
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
    warmup = config["optimizer"]["warmup_steps"]
    if warmup < 0 or warmup > 10**8:
        raise ValueError(f"Expected optimizer.warmup_steps in [0, 1e8]. Received: {warmup!r}")
    discriminator_class(config["model"])  # a known architecture


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


def make_strategy(name):
    """The `tf.distribute` strategy `name` (create it before any other TF work)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown strategy {name!r}. Choices: {STRATEGIES}")


def is_chief():
    """True unless TF_CONFIG names this process a non-chief worker."""
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = tf_config.get("task", {})
    cluster = tf_config.get("cluster", {})
    if not task:
        return True
    if task.get("type") == "chief":
        return True
    return task.get("type") == "worker" and task.get("index", 0) == 0 and "chief" not in cluster


def task_index():
    """This process's task index in TF_CONFIG (0 without TF_CONFIG)."""
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    return int(tf_config.get("task", {}).get("index", 0))


def build_gan(config):
    """Generator, discriminator and ViTGAN (compiled) of a resolved config."""
    model = config["model"]
    shared = model.get("shared", {})
    generator = Generator.from_preset(model["preset"], **{**shared, **model.get("generator", {})})
    d_class = discriminator_class(model)
    d_config = {k: v for k, v in model.get("discriminator", {}).items()
                if k in d_class.CONFIG_KEYS}
    if d_class is Discriminator:
        d_config = {**shared, **d_config}
    discriminator = d_class.from_preset(model["preset"], **d_config)
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


def comparable(config):
    """The config without the keys that may change on resume."""
    config = copy.deepcopy(config)
    for key in RESUMABLE_KEYS:
        section, leaf = key.split(".")
        config.get(section, {}).pop(leaf, None)
    return config


def check_out_dir(out_dir, config):
    """Refuses a folder holding another run; returns True when resuming this one.

    A folder whose run never trained a step (a start that failed, e.g. on a
    bad data source) is not another run: it is reused for `config`.
    """
    folder = RunFolder(out_dir)
    path = folder.config_path
    check_output_folder(out_dir)
    if not folder.has_config():
        # "workers" may already hold the backups of other workers of this run.
        if os.path.isdir(out_dir) and set(os.listdir(out_dir)) - {runs.WORKERS_DIR}:
            raise FileExistsError(
                f"--out {out_dir!r} exists, is not empty and holds no config.json; "
                "choose another folder"
            )
        return False
    # Filled with today's defaults: a key added since the run started is no difference.
    previous = merge(base_config(), folder.read_config())
    if comparable(previous) != comparable(json.loads(json.dumps(config))):
        if not folder.has_trained():
            print(f"{out_dir}: its run never trained a step; starting this config there")
            return False
        raise FileExistsError(
            f"--out {out_dir!r} holds a different run ({path}); resume it with the same "
            "config, or choose another folder"
        )
    return True


def _check_nothing_to_lose(out_dir, backup_dir):
    """Refuses to start from step 0 over the checkpoints of a run whose backup is gone."""
    folder = RunFolder(out_dir)
    path, step = folder.state_path, folder.checkpoint_step()
    if step:
        raise FileExistsError(
            f"--out {out_dir!r} holds checkpoints at step {step} ({path}) but no backup to "
            f"resume from ({backup_dir} is missing or empty): training from step 0 would "
            "overwrite them; move the folder away or choose another one"
        )


def train(config, out_dir, strategy=None, extra_callbacks=(), verbose="auto", extractor=None):
    """Trains `config` into `out_dir`; returns the `ViTGAN`.

    With `train.train_minutes` the run stops at the first `log_every`
    boundary past the budget (training time summed over resumes, read back
    from `metrics.jsonl`). When a resumed run's budget is already spent,
    nothing is trained or written and the returned `ViTGAN` is freshly
    built: load the run's `checkpoints/` for its weights.

    Args:
        config: dict, a resolved config (see `base_config`).
        out_dir: str. The run folder (resumed when it holds the same config).
        strategy: `tf.distribute.Strategy` or None (from `train.strategy`).
        extra_callbacks: Keras callbacks run after the run's own.
        verbose: Keras `fit` verbosity. "auto": a progress bar on a terminal, one
            line per `log_every` steps when stdout is a file or a pipe (Keras'
            own "auto" redraws the bar into a file at every step: 34 MB for
            the fashion_mnist recipe's 2 hours).
        extractor: the evaluations' feature extractor (a callable, images ->
            features), or None: the 2015 Inception network.
    """
    config = merge(base_config(), config)
    validate(config)
    epochs, steps_per_epoch = schedule(config)
    train_cfg = config["train"]
    strategy = strategy or make_strategy(train_cfg["strategy"])
    replicas = strategy.num_replicas_in_sync
    batch = config["data"]["batch_size"]
    if batch % replicas:
        raise ValueError(
            f"Global batch_size={batch} is not divisible by the {replicas} replicas of "
            f"the {type(strategy).__name__}"
        )
    if verbose == "auto":
        verbose = 1 if sys.stdout is not None and sys.stdout.isatty() else 2
    unused = unused_discriminator_keys(config["model"])
    if unused:
        architecture = config["model"]["discriminator"].get("architecture", "vit")
        print(f"note: model.discriminator keys {unused} are not used by architecture="
              f"{architecture!r} (they belong to the other discriminator)")
    chief = is_chief()
    if chief:
        check_out_dir(out_dir, config)  # refuses a folder that holds a different run
    folder = RunFolder(out_dir)
    run_dir = out_dir if chief else folder.worker_dir(task_index())
    run_folder = RunFolder(run_dir)  # a worker's own backup lives in its own folder
    backup_dir = run_folder.backup_dir
    start_step = run_folder.backup_epoch() * steps_per_epoch  # where the backup resumes
    if chief and not start_step:
        _check_nothing_to_lose(out_dir, backup_dir)  # before anything is written

    keras.utils.set_random_seed(config["seed"])
    if train_cfg["deterministic"]:
        tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(train_cfg["precision"])
    try:
        # The models and the data first: a bad value or source fails before any write.
        with strategy.scope():
            gan = build_gan(config)
        model_shape = (gan.generator.image_size, gan.generator.channels)
        dataset = data_lib.make_dataset(
            config["data"]["source"], model_shape[0], model_shape[1], batch,
            seed=config["seed"], start_step=start_step,
        )
        os.makedirs(run_dir, exist_ok=True)
        if chief:  # on resume the step count may have changed: keep config.json current
            folder.write_config(config)
        if chief and start_step:
            folder.truncate_metrics(start_step)
        checkpoint_dir = folder.checkpoints_dir
        budget = None
        if train_cfg.get("train_minutes"):
            budget = train_cfg["train_minutes"] * 60.0 - folder.train_time(start_step)
            if budget <= 0:
                print(f"{out_dir}: the training-time budget of {train_cfg['train_minutes']} min "
                      "is already spent; nothing to train")
                return gan
        # First: times the train steps alone; stops at the budget, at an epoch end.
        timer = callbacks_lib.TrainTimeBudget(budget, every_n_steps=steps_per_epoch)
        run_callbacks = [
            timer,
            callbacks_lib.NaNGuard(checkpoint_dir if chief else None),
            # Early: it restores the model before the others read its step counters.
            keras.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True,
                                             delete_checkpoint=False),
        ]
        if chief:
            tb_dir = folder.tensorboard_dir
            lipschitz_every = train_cfg.get("lipschitz_every")
            lipschitz_every = train_cfg["log_every"] if lipschitz_every is None else lipschitz_every
            if lipschitz_every:
                # Before the JSONL and TensorBoard writers, which then record `lipschitz_d`.
                fixed_batch = next(iter(data_lib.make_dataset(  # the same batch after a resume
                    config["data"]["source"], model_shape[0], model_shape[1], LIPSCHITZ_BATCH,
                    seed=config["seed"])))
                run_callbacks.append(LipschitzMonitor(
                    fixed_batch, every_n_steps=lipschitz_every,
                    log_dir=folder.lipschitz_log_dir))
            # Before the JSONL and TensorBoard writers, which then record the results.
            run_callbacks += evaluation_callbacks(config, start_step, timer,
                                                  offset_seconds=folder.train_time(start_step),
                                                  extractor=extractor)
            run_callbacks += [
                callbacks_lib.Checkpoint(checkpoint_dir),
                callbacks_lib.MetricsLogger(folder.metrics_path, images_per_step=batch, timer=timer),
                callbacks_lib.SampleGrid(out_dir, train_cfg["sample_every"],
                                         train_cfg["num_samples"], seed=config["seed"],
                                         tensorboard_dir=folder.samples_log_dir),
                keras.callbacks.TensorBoard(tb_dir, update_freq="epoch"),
            ]
        # The step counter restored with a backup; this also sets it for a backup written
        # before the counter existed (its weights hold no `train_steps`).
        gan.train_steps.assign(start_step)
        try:
            gan.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch,
                    callbacks=run_callbacks + list(extra_callbacks), verbose=verbose)
        except (OSError, tf.errors.PermissionDeniedError, tf.errors.ResourceExhaustedError) as error:
            if not _is_write_failure(error):
                raise
            try:
                step = folder.checkpoint_step()
            except ValueError:  # the write failure is the news
                step = None
            kept = f"the last good checkpoint (step {step}) is in {checkpoint_dir}" if step else \
                "no checkpoint was written yet"
            raise RunFolderWriteError(
                f"Could not write to the run folder {out_dir!r} "
                f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
                f"training stopped and {kept}. Free space or fix permissions, then run the same "
                "command again to resume"
            ) from error
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return gan


class RunFolderWriteError(OSError):
    """Training stopped because the run folder could not be written (disk full, permissions)."""


WRITE_ERRNOS = (errno.ENOSPC, errno.EACCES, errno.EROFS, errno.EDQUOT, errno.EPERM)


def _is_write_failure(error):
    """True for a full disk or a permission error (not, e.g., a failed download)."""
    if isinstance(error, tf.errors.PermissionDeniedError):
        return True
    if isinstance(error, tf.errors.ResourceExhaustedError):  # else out of memory
        return "No space left on device" in str(error)
    return getattr(error, "errno", None) in WRITE_ERRNOS


def evaluation_callbacks(config, start_step, timer=None, offset_seconds=0.0, extractor=None):
    """`FIDCallback`s of `train.eval_every`, `eval_every_minutes` and `final_eval_samples`.

    Every `eval_every` steps, and every `eval_every_minutes` of training time
    (`timer`'s, plus `offset_seconds` spent before a resume): FID and KID on
    `eval_samples` generated images (`fid2k`, `kid2k`, `kid2k_std` for 2000).
    At the last step: FID on
    `final_eval_samples` (`fid10k` for 10000) and KID on `eval_samples`.
    Both use fixed latents and the same `eval_real_samples` real training
    images (statistics cached, see `vitgan_tf.metrics.reference_statistics`),
    with `extractor` (default: one `InceptionFeatureExtractor` for both).
    """
    from vitgan_tf.metrics.callback import FIDCallback  # noqa: PLC0415 (imports the metrics only when used)
    from vitgan_tf.metrics.inception import InceptionFeatureExtractor  # noqa: PLC0415

    train_cfg = config["train"]
    steps = train_cfg["steps"]
    every, final = train_cfg["eval_every"], train_cfg["final_eval_samples"]
    every = every if every and steps // every > start_step // every else 0  # a step left to score
    final = final if steps > start_step else 0
    minutes = train_cfg.get("eval_every_minutes") if steps > start_step and timer is not None else None
    if not every and not final and not minutes:
        return []  # nothing to evaluate: no Inception network to load
    extractor = extractor or InceptionFeatureExtractor()  # one network for both callbacks
    common = dict(dataset=config["data"]["source"], split="train", extractor=extractor,
                  real_samples=train_cfg["eval_real_samples"], seed=config["seed"])
    out = []
    if every or minutes:
        samples = train_cfg["eval_samples"]
        schedule = None
        if minutes:
            schedule = callbacks_lib.TrainTimeSchedule(
                timer, minutes, min(train_cfg["log_every"], steps), offset_seconds=offset_seconds)
        out.append(FIDCallback(every_n_steps=every or steps + 1, num_samples=samples,
                               kid_samples=samples, final_trigger=schedule, **common))
    if final:
        curve = train_cfg["eval_every"] or train_cfg.get("eval_every_minutes")
        kid = min(train_cfg["eval_samples"], final) if curve else 0
        trigger = (lambda: timer.exhausted) if timer is not None else None
        out.append(FIDCallback(every_n_steps=steps, num_samples=final, kid_samples=kid,
                               final_trigger=trigger, **common))
    return out
