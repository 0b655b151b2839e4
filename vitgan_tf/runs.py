"""The training run folder: the one module that names its files and reads them.

A run folder (`python -m recipes.train RECIPE --out RUN`) holds:

- `config.json`: the resolved config (rewritten on resume, when `train.steps`
  or `train.train_minutes` may change);
- `metrics.jsonl`: one record per `train.log_every` steps (`step`, `time`,
  `train_time`, `images`, the losses, `lipschitz_d`, FID/KID when evaluated);
- `samples_{step:06d}.png`: grids of the EMA generator on fixed latents;
- `tensorboard/` (with `lipschitz/` and `samples/` for those callbacks' logs);
- `evaluation.json`: `python -m vitgan_tf.evaluate --run RUN`'s results;
- `workers/{index}/`: the backups of the non-chief workers of a multi-worker run;
- `checkpoints/`: `generator.keras`, `discriminator.keras`,
  `ema_generator.keras` (load with `keras.saving.load_model(path,
  safe_mode=True)` after `import vitgan_tf`) and `state.json` (`{"step": N}`),
  the last good epoch's;
- `backup/`: Keras `BackupAndRestore`, from which a run resumes.

Training, evaluation, export, plots and diagnostics all reach these files
through `RunFolder`, and every callback of a run reads its step from
`current_step`.
"""

import json
import os
import warnings

from vitgan_tf.io import atomic_write_text

CHECKPOINTS = ("generator", "discriminator", "ema_generator")
STATE_FILE = "state.json"  # in checkpoints/: {"step": N}
WORKERS_DIR = "workers"  # non-chief workers' own folders, workers/{index}/


def current_step(model):
    """Train steps run: a `ViTGAN`'s `train_steps` (else the optimizer's iterations).

    The one step counter of every callback of a run (samples, metrics,
    checkpoints, evaluations, the Lipschitz monitor). It counts batches, so
    it matches `fit`'s schedule; under `mixed_float16` it includes the few
    updates the loss-scale optimizer skips for non-finite gradients. It is
    saved with the model's weights, so a resumed run goes on from it.
    """
    import keras  # noqa: PLC0415 (this module's file helpers need no backend)

    counter = getattr(model, "train_steps", None)
    if counter is None:
        counter = model.optimizer.iterations
    return int(keras.ops.convert_to_numpy(counter))


class StepCounter:
    """The step a generic callback sees (`FIDCallback`, `LipschitzMonitor`).

    For a `ViTGAN` (a model with `train_steps`) it is `current_step`; for
    any other model, the batches run, counted from the optimizer's
    iterations at the start of `fit` (0 without an optimizer).
    """

    def __init__(self):
        self._model = None
        self._count = 0

    def start(self, model):
        """Call from `on_train_begin`."""
        self._model = model
        if getattr(model, "train_steps", None) is None:
            import keras  # noqa: PLC0415

            iterations = getattr(getattr(model, "optimizer", None), "iterations", None)
            self._count = 0 if iterations is None else int(keras.ops.convert_to_numpy(iterations))

    def batch_end(self):
        """Call from `on_train_batch_end`; returns the step just completed."""
        if getattr(self._model, "train_steps", None) is not None:
            return current_step(self._model)
        self._count += 1
        return self._count


def read_metrics(path):
    """Records of a `metrics.jsonl` file, in order.

    A last line cut short (a run killed while appending it) is dropped with
    a warning; an unreadable line before it raises `ValueError` naming it.
    """
    with open(path) as f:
        lines = [(i, line) for i, line in enumerate(f, 1) if line.strip()]
    records = []
    for index, (number, line) in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            if index == len(lines) - 1:
                warnings.warn(f"{path}:{number}: dropping an incomplete last record ({e})",
                              stacklevel=2)
                break
            raise ValueError(f"{path}:{number} is not a JSON record ({e}): the file is corrupt") from e
    return records


class RunFolder:
    """Paths and readers of one training run folder (see the module docstring).

    Args:
        path: str or path-like. The folder (need not exist yet).

    Example:

    >>> run = RunFolder("runs/fashion_mnist")
    >>> run.read_config()["data"]["source"]
    'fashion_mnist'
    >>> run.checkpoint_path("ema_generator")
    'runs/fashion_mnist/checkpoints/ema_generator.keras'
    """

    def __init__(self, path):
        self.path = os.fspath(path)

    def __repr__(self):
        return f"RunFolder({self.path!r})"

    # === Paths ===

    @property
    def config_path(self):
        return os.path.join(self.path, "config.json")

    @property
    def metrics_path(self):
        return os.path.join(self.path, "metrics.jsonl")

    @property
    def checkpoints_dir(self):
        return os.path.join(self.path, "checkpoints")

    @property
    def state_path(self):
        """`checkpoints/state.json`: the step of the checkpoints."""
        return os.path.join(self.checkpoints_dir, STATE_FILE)

    @property
    def backup_dir(self):
        return os.path.join(self.path, "backup")

    @property
    def tensorboard_dir(self):
        return os.path.join(self.path, "tensorboard")

    @property
    def lipschitz_log_dir(self):
        """`tensorboard/lipschitz`: `LipschitzMonitor`'s TensorBoard logs."""
        return os.path.join(self.tensorboard_dir, "lipschitz")

    @property
    def samples_log_dir(self):
        """`tensorboard/samples`: `SampleGrid`'s TensorBoard images."""
        return os.path.join(self.tensorboard_dir, "samples")

    @property
    def evaluation_path(self):
        """`evaluation.json`: the results of `python -m vitgan_tf.evaluate --run`."""
        return os.path.join(self.path, "evaluation.json")

    def worker_dir(self, index):
        """`workers/{index}`: a non-chief worker's own folder (its backup)."""
        return os.path.join(self.path, WORKERS_DIR, str(index))

    def samples_path(self, step):
        return os.path.join(self.path, samples_name(step))

    def checkpoint_path(self, name):
        """`checkpoints/{name}.keras`, `name` one of `CHECKPOINTS`."""
        if name not in CHECKPOINTS:
            raise ValueError(f"Unknown checkpoint {name!r}. Choices: {list(CHECKPOINTS)}")
        return os.path.join(self.checkpoints_dir, f"{name}.keras")

    # === Readers ===

    def has_config(self):
        return os.path.isfile(self.config_path)

    def read_config(self):
        """The run's config dict; a clear error if the folder is not a run."""
        if not os.path.isdir(self.path):
            raise FileNotFoundError(f"Run folder not found: {self.path!r}")
        if not self.has_config():
            raise FileNotFoundError(
                f"{self.path!r} is not a training run folder: {self.config_path!r} is missing")
        try:
            with open(self.config_path) as f:
                config = json.load(f)
        except (OSError, ValueError) as error:
            raise ValueError(f"Could not parse run config {self.config_path!r}: {error}") from error
        if not isinstance(config, dict):
            raise ValueError(f"Run config {self.config_path!r} is not a JSON object")
        return config

    def write_config(self, config):
        os.makedirs(self.path, exist_ok=True)
        atomic_write_text(self.config_path, json.dumps(config, indent=2, sort_keys=True))

    def require_checkpoint(self, name):
        """`checkpoint_path(name)`, or a clear error if training has not saved it."""
        self.read_config()  # the folder is a run
        path = self.checkpoint_path(name)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"Run {self.path!r} has no {name!r} checkpoint: {path!r} is missing "
                "(has training saved a checkpoint yet?)")
        return path

    def read_metrics(self, up_to_step=None):
        """`metrics.jsonl` records (none if the file is missing), up to a step."""
        if not os.path.exists(self.metrics_path):
            return []
        records = read_metrics(self.metrics_path)
        if up_to_step is not None:
            records = [r for r in records if r["step"] <= up_to_step]
        return records

    def truncate_metrics(self, step):
        """Drops records after `step` (written before a crash, replayed on resume)
        and a last line torn by the crash."""
        if os.path.exists(self.metrics_path):
            records = self.read_metrics(up_to_step=step)
            atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in records))

    def train_time(self, step):
        """Seconds of training time recorded up to `step` (0 if none)."""
        if not step:
            return 0.0
        records = self.read_metrics(up_to_step=step)
        return float(records[-1].get("train_time") or 0.0) if records else 0.0

    def checkpoint_step(self):
        """The step of the checkpoints (`checkpoints/state.json`), or None."""
        return read_state_step(self.state_path)

    def has_trained(self):
        """True once a step was logged, checkpointed or backed up here."""
        return bool(self.checkpoint_step() or self.backup_epoch() or self.read_metrics())

    def backup_epoch(self):
        """The epoch a `BackupAndRestore` backup resumes at (0 if none)."""
        path = os.path.join(self.backup_dir, "training_metadata.json")
        if not os.path.exists(path):
            return 0
        try:
            with open(path) as f:
                return int(json.load(f)["epoch"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"Backup metadata {path!r} is corrupt ({error!r}); its run cannot "
                             "resume: move the folder away or restore the file") from error


def samples_name(step):
    """`samples_{step:06d}.png`."""
    return f"samples_{step:06d}.png"


def read_state_step(state_path):
    """The `step` of a checkpoints' `state.json`, or None if it is missing.

    Raises:
        ValueError: the file exists but holds no integer `step` (corrupt).
    """
    try:
        with open(state_path) as f:
            return int(json.load(f)["step"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"Checkpoint state {state_path!r} is corrupt ({type(error).__name__}: "
                         f"{error}); restore it, or move the run folder away") from None
