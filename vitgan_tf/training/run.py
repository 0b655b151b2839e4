"""A training run: config -> strategy, data, ViTGAN, callbacks, `fit`.

`train(config, out_dir)` is what `python -m recipes.train` calls. The run
folder holds `config.json`, `samples_{step:06d}.png`, `metrics.jsonl`,
`tensorboard/`, `checkpoints/` and `backup/` (Keras `BackupAndRestore`).
Running the same config on the same folder again resumes where the last
run stopped (even after `kill -9`), with the batches an uninterrupted run
sees (at once for indexed sources, by replaying a tfds stream; see
`vitgan_tf.data`).
"""

import errno
import json
import os
import sys

import keras
import tensorflow as tf

from vitgan_tf import data as data_lib
from vitgan_tf import runs
from vitgan_tf.io import check_output_folder
from vitgan_tf.runs import RunFolder
from vitgan_tf.training import callbacks as callbacks_lib
# The config schema and its checks (re-exported: `run.merge`, `run.validate`, ... as before).
from vitgan_tf.training.config import MODEL_SECTIONS  # noqa: F401
from vitgan_tf.training.config import POLICIES  # noqa: F401
from vitgan_tf.training.config import RESUMABLE_KEYS  # noqa: F401
from vitgan_tf.training.config import STRATEGIES
from vitgan_tf.training.config import base_config
from vitgan_tf.training.config import build_gan
from vitgan_tf.training.config import check_keys  # noqa: F401
from vitgan_tf.training.config import comparable
from vitgan_tf.training.config import discriminator_class
from vitgan_tf.training.config import merge
from vitgan_tf.training.config import parse_value  # noqa: F401
from vitgan_tf.training.config import schedule
from vitgan_tf.training.config import set_key  # noqa: F401
from vitgan_tf.training.config import unused_discriminator_keys
from vitgan_tf.training.config import validate

# Real images on which LipschitzMonitor estimates D's Jacobian norm: the same batch for every
# seed (and after a resume), so that runs' curves compare.
LIPSCHITZ_BATCH = 16
LIPSCHITZ_DATA_SEED = 0


def make_strategy(name):
    """The `tf.distribute` strategy `name` (create it before any other TF work)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown strategy {name!r}. Choices: {STRATEGIES}")


def cluster_task():
    """(task type, task index, cluster task types) of TF_CONFIG, parsed in one place.

    ("", 0, ()) without TF_CONFIG (a single process, the chief).
    """
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = tf_config.get("task", {})
    return task.get("type", ""), int(task.get("index", 0)), tuple(tf_config.get("cluster", {}))


def is_chief():
    """True unless TF_CONFIG names this process a non-chief worker."""
    task_type, index, cluster = cluster_task()
    if task_type in ("", "chief"):
        return True
    return task_type == "worker" and index == 0 and "chief" not in cluster


def task_index():
    """This process's task index in TF_CONFIG (0 without TF_CONFIG)."""
    return cluster_task()[1]


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
        budget = None
        if train_cfg.get("train_minutes"):
            budget = train_cfg["train_minutes"] * 60.0 - folder.train_time(start_step)
            if budget <= 0:
                print(f"{out_dir}: the training-time budget of {train_cfg['train_minutes']} min "
                      "is already spent; nothing to train")
                return gan
        # First: times the train steps alone; stops at the budget, at an epoch end.
        timer = callbacks_lib.TrainTimeBudget(budget, every_n_steps=steps_per_epoch)
        run_callbacks = _run_callbacks(config, folder, backup_dir, timer, chief, start_step,
                                       model_shape, extractor)
        # The step counter restored with a backup; this also sets it for a backup written
        # before the counter existed (its weights hold no `train_steps`).
        gan.train_steps.assign(start_step)
        _fit(gan, dataset, epochs, steps_per_epoch, run_callbacks + list(extra_callbacks), verbose,
             folder)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return gan


def _fit(gan, dataset, epochs, steps_per_epoch, callbacks, verbose, folder):
    """`gan.fit`; a full disk or a permission error becomes `RunFolderWriteError`."""
    try:
        # The dataset is shuffled by `vitgan_tf.data` (shuffle=False: Keras would only warn
        # that it ignores its own shuffle for a tf.data.Dataset).
        gan.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch, callbacks=callbacks,
                verbose=verbose, shuffle=False)
    except (OSError, tf.errors.PermissionDeniedError, tf.errors.ResourceExhaustedError) as error:
        if not _is_write_failure(error):
            raise
        try:
            step = folder.checkpoint_step()
        except ValueError:  # the write failure is the news
            step = None
        kept = (f"the last good checkpoint (step {step}) is in {folder.checkpoints_dir}" if step
                else "no checkpoint was written yet")
        raise RunFolderWriteError(
            f"Could not write to the run folder {folder.path!r} "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
            f"training stopped and {kept}. Free space or fix permissions, then run the same "
            "command again to resume"
        ) from error


def _run_callbacks(config, folder, backup_dir, timer, chief, start_step, model_shape, extractor):
    """The run's own callbacks, in their order (each comment says why it stands there)."""
    train_cfg = config["train"]
    checkpoint_dir = folder.checkpoints_dir
    run_callbacks = [
        timer,
        callbacks_lib.NaNGuard(checkpoint_dir if chief else None),
        # Early: it restores the model before the others read its step counters.
        keras.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True,
                                         delete_checkpoint=False),
    ]
    if not chief:
        return run_callbacks
    lipschitz_every = train_cfg.get("lipschitz_every")
    lipschitz_every = train_cfg["log_every"] if lipschitz_every is None else lipschitz_every
    if lipschitz_every:
        # Before the JSONL and TensorBoard writers, which then record `lipschitz_d`.
        fixed_batch = next(iter(data_lib.make_dataset(
            config["data"]["source"], model_shape[0], model_shape[1], LIPSCHITZ_BATCH,
            seed=LIPSCHITZ_DATA_SEED)))
        run_callbacks.append(callbacks_lib.LipschitzMonitor(
            fixed_batch, every_n_steps=lipschitz_every,
            num_iterations=train_cfg.get("lipschitz_iterations", 10),
            log_dir=folder.lipschitz_log_dir))
    # Before the JSONL and TensorBoard writers, which then record the results.
    run_callbacks += evaluation_callbacks(config, start_step, timer,
                                          offset_seconds=folder.train_time(start_step),
                                          extractor=extractor)
    return run_callbacks + [
        callbacks_lib.Checkpoint(checkpoint_dir),
        callbacks_lib.MetricsLogger(folder.metrics_path, images_per_step=config["data"]["batch_size"],
                                    timer=timer),
        callbacks_lib.SampleGrid(folder.path, train_cfg["sample_every"], train_cfg["num_samples"],
                                 seed=config["seed"], tensorboard_dir=folder.samples_log_dir),
        keras.callbacks.TensorBoard(folder.tensorboard_dir, update_freq="epoch"),
    ]


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
    `final_eval_samples` (`fid10k` for 10000) and KID on `final_kid_samples`
    (None: `eval_samples` when there is a curve, else no KID).
    Both use fixed latents and the same `eval_real_samples` real training
    images (statistics cached, see `vitgan_tf.metrics.reference_statistics`),
    with `extractor` (default: one `InceptionFeatureExtractor` for both).
    """
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
        out.append(callbacks_lib.FIDCallback(every_n_steps=every or steps + 1, num_samples=samples,
                               kid_samples=samples, final_trigger=schedule, **common))
    if final:
        kid = train_cfg.get("final_kid_samples")
        if kid is None:
            curve = train_cfg["eval_every"] or train_cfg.get("eval_every_minutes")
            kid = min(train_cfg["eval_samples"], final) if curve else 0
        trigger = (lambda: timer.exhausted) if timer is not None else None
        out.append(callbacks_lib.FIDCallback(every_n_steps=steps, num_samples=final, kid_samples=kid,
                               final_trigger=trigger, **common))
    return out
