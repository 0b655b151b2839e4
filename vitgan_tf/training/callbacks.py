"""The callbacks of a training run: samples, metrics, checkpoints, NaN guard, time
budgets, FID / KID (`FIDCallback`) and D's Lipschitz estimate (`LipschitzMonitor`).

Files are written atomically (temporary file in the same folder, then
`os.replace`), so a run killed at any moment leaves complete files; the one
exception is `metrics.jsonl`, appended a line at a time, whose last line a
kill can tear: `read_metrics` drops it, and a resume goes on without that
one record (the epoch's backup is already written by then).
"""

import json
import math
import os
import time
import warnings

import keras
import tensorflow as tf

from vitgan_tf.images import make_grid, save_png, to_uint8
from vitgan_tf.lipschitz import jacobian_norm
from vitgan_tf.metrics.evaluation import FEATURES_ID
from vitgan_tf.metrics.evaluation import evaluate_generator
from vitgan_tf.metrics.evaluation import reference_statistics
from vitgan_tf.io import atomic_write, atomic_write_text
from vitgan_tf.runs import STATE_FILE, read_state_step, samples_name
from vitgan_tf.runs import StepCounter
from vitgan_tf.runs import current_step, read_metrics  # noqa: F401 (re-exported)


class SampleGrid(keras.callbacks.Callback):
    """Every `every_steps` steps, writes `samples_{step:06d}.png` from FIXED latents.

    Uses `model.ema_generator`. The latents are drawn once, from
    `keras.random.normal` with an integer seed, so grids are comparable
    across steps and runs. Also logs the grid to TensorBoard when
    `tensorboard_dir` is set, and writes a final grid at train end.

    Args:
        out_dir: str. Folder of the PNGs.
        every_steps: int. Interval in train steps.
        num_samples: int, default 64.
        seed: int, default 0. Seed of the fixed latents.
        tensorboard_dir: str or None.
    """

    def __init__(self, out_dir, every_steps, num_samples=64, seed=0, tensorboard_dir=None):
        super().__init__()
        if every_steps <= 0:
            raise ValueError(f"Expected `every_steps` > 0. Received: every_steps={every_steps}")
        self.out_dir = out_dir
        self.every_steps = int(every_steps)
        self.num_samples = int(num_samples)
        self.seed = seed
        self.tensorboard_dir = tensorboard_dir
        self._latents = None
        self._writer = None
        self._last = None

    def _fixed_latents(self):
        if self._latents is None:
            z_dim = self.model.ema_generator.z_dim
            self._latents = keras.ops.convert_to_numpy(
                keras.random.normal((self.num_samples, z_dim), seed=self.seed)
            )
        return self._latents

    def write(self, step):
        # A direct call (not predict): no cross-replica gather, so the chief
        # alone can sample under MultiWorkerMirroredStrategy.
        images = keras.ops.convert_to_numpy(
            self.model.ema_generator(self._fixed_latents(), training=False)
        )
        path = os.path.join(self.out_dir, samples_name(step))
        grid = make_grid(to_uint8(images))
        save_png(grid, path)
        if self.tensorboard_dir:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(self.tensorboard_dir)
            with self._writer.as_default():
                tf.summary.image("ema_samples", grid[None].astype("float32") / 255.0, step=step)
            self._writer.flush()
        self._last = step
        return path

    def on_train_batch_end(self, batch, logs=None):
        step = current_step(self.model)
        if step % self.every_steps == 0 and step != self._last:
            self.write(step)

    def on_train_end(self, logs=None):
        step = current_step(self.model)
        if step != self._last:
            self.write(step)


class MetricsLogger(keras.callbacks.Callback):
    """Appends `{"step", "time", ..., <logs>}` to a JSONL file at each epoch end.

    Logs are Keras' running means over the epoch (`log_every` steps).
    `time` is wall-clock seconds of training runs (evaluations included);
    `images` (with `images_per_step`) the real images D has seen; and
    `train_time` (with `timer`, a `TrainTimeBudget` placed FIRST in the
    callback list) the seconds spent in train steps alone. After a resume,
    `time` and `train_time` continue from the file's last record.

    Args:
        path: str. The JSONL file.
        images_per_step: int or None. The global batch size.
        timer: `TrainTimeBudget` or None.
    """

    def __init__(self, path, images_per_step=None, timer=None):
        super().__init__()
        self.path = path
        self.images_per_step = images_per_step
        self.timer = timer
        self._start = None
        self._offsets = (0.0, 0.0)

    def on_train_begin(self, logs=None):
        self._start = time.time()
        records = read_metrics(self.path) if os.path.exists(self.path) else []
        last = records[-1] if records else {}
        train_time = last.get("train_time")
        if last and train_time is None and self.timer is not None:  # an older version's file
            train_time = last["time"]
            warnings.warn(f"{self.path}: the last record has no train_time; train_time "
                          f"continues from its wall time ({train_time} s), an upper bound",
                          stacklevel=2)
        self._offsets = (last.get("time", 0.0), train_time or 0.0)
        if self.timer is not None:
            self._offsets = (self._offsets[0], self._offsets[1] - self.timer.elapsed)

    def on_epoch_end(self, epoch, logs=None):
        step = current_step(self.model)
        record = {"step": step, "time": round(self._offsets[0] + time.time() - self._start, 3)}
        if self.images_per_step:
            record["images"] = step * self.images_per_step
        if self.timer is not None:
            record["train_time"] = round(self._offsets[1] + self.timer.elapsed, 3)
        record.update({k: float(v) for k, v in (logs or {}).items()})
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()


class Checkpoint(keras.callbacks.Callback):
    """Saves G, D and EMA G (`.keras`) at each epoch end.

    Files in `folder`: `generator.keras`, `discriminator.keras`,
    `ema_generator.keras` (load with `keras.saving.load_model(path,
    safe_mode=True)` after `import vitgan_tf`) and `state.json`
    (`{"step": ...}`). Nothing is written when a logged value is not
    finite, so the folder always holds the last good models. A run resumes
    from `BackupAndRestore`'s backup (optimizers and seed state included),
    not from these files.
    """

    def __init__(self, folder):
        super().__init__()
        self.folder = folder

    def save(self):
        model = self.model
        os.makedirs(self.folder, exist_ok=True)
        for name in ("generator", "discriminator", "ema_generator"):
            part = getattr(model, name)
            atomic_write(os.path.join(self.folder, f"{name}.keras"), part.save, suffix=".keras")
        step = current_step(model)
        atomic_write_text(os.path.join(self.folder, STATE_FILE), json.dumps({"step": step}))
        return step

    def on_epoch_end(self, epoch, logs=None):
        if all(math.isfinite(float(v)) for v in (logs or {}).values()):
            self.save()


class NaNGuard(keras.callbacks.Callback):
    """Stops training with a clear error at the first non-finite logged value.

    Raises `FloatingPointError` from `fit` at the end of the offending
    batch, before any epoch-end checkpoint or backup could store the bad
    weights; the last good checkpoint stays in `checkpoint_dir`.
    """

    def __init__(self, checkpoint_dir=None):
        super().__init__()
        self.checkpoint_dir = checkpoint_dir

    def on_train_batch_end(self, batch, logs=None):
        bad = {k: float(v) for k, v in (logs or {}).items() if not math.isfinite(float(v))}
        if not bad:
            return
        self.model.stop_training = True
        step = current_step(self.model)
        where = "no checkpoint was written yet"
        try:
            saved = read_state_step(os.path.join(self.checkpoint_dir, STATE_FILE)) if self.checkpoint_dir else None
        except ValueError as error:  # the NaN is the news; a corrupt state is said, not raised
            saved, where = None, str(error)
        if saved is not None:
            where = f"the last good checkpoint (step {saved}) is in {self.checkpoint_dir}"
        raise FloatingPointError(
            f"Non-finite training values {bad} at step {step}; training stopped and "
            f"{where}. Lower the learning rate or check the data."
        )


class TrainTimeBudget(keras.callbacks.Callback):
    """Stops `fit` once the time spent in training steps reaches a budget.

    Each batch is timed from this callback's `on_train_batch_begin` to its
    `on_train_batch_end`, and the durations are summed. Time outside that
    window is not counted: epoch-end work (checkpoints, backups) and the
    batch-end work of callbacks listed AFTER this one (evaluations,
    monitors). Training stops at the end of the batch during which the sum
    reaches `seconds`, so `elapsed <= seconds + max_step_seconds`. The first
    batch includes tracing / compilation. The sums carry over successive
    `fit` calls with the same callback.

    Attributes:
        elapsed: float. Seconds spent in training steps.
        steps: int. Steps timed.
        max_step_seconds: float. The longest step.
        exhausted: bool. True once the budget has stopped training.

    Args:
        seconds: float > 0 or None, default None (measure, never stop).
        clock: callable returning seconds, default `time.perf_counter`.
        every_n_steps: int or None, default None. Stop only at a step that is
            a multiple of it (the end of a run's logging interval, so the
            last epoch is whole and checkpoints, backups and metrics stay at
            interval boundaries); training may then run up to that many steps
            past the budget.

    Example:

    >>> budget = TrainTimeBudget(20 * 60)
    >>> gan.fit(dataset, epochs=10**6, steps_per_epoch=100, callbacks=[budget, fid])
    >>> budget.elapsed, budget.steps
    """

    def __init__(self, seconds=None, clock=time.perf_counter, every_n_steps=None):
        super().__init__()
        if seconds is not None and not (isinstance(seconds, (int, float)) and seconds > 0):
            raise ValueError(f"Expected `seconds` > 0 or None. Received: seconds={seconds!r}")
        if every_n_steps is not None and (not isinstance(every_n_steps, int) or every_n_steps <= 0):
            raise ValueError(f"Expected `every_n_steps` > 0 or None. Received: {every_n_steps!r}")
        self.seconds = None if seconds is None else float(seconds)
        self.clock = clock
        self.every_n_steps = every_n_steps
        self.elapsed = 0.0
        self.steps = 0
        self.max_step_seconds = 0.0
        self.exhausted = False
        self._begin = None

    def on_train_batch_begin(self, batch, logs=None):
        self._begin = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        if self._begin is None:
            return
        duration = self.clock() - self._begin
        self._begin = None
        self.elapsed += duration
        self.steps += 1
        self.max_step_seconds = max(self.max_step_seconds, duration)
        if self.seconds is None or self.elapsed < self.seconds:
            return
        if self.every_n_steps and current_step(self.model) % self.every_n_steps:
            return  # stop at the end of a logging interval (a whole Keras epoch)
        self.exhausted = True
        self.model.stop_training = True


class TrainTimeSchedule:
    """A trigger for `FIDCallback`: evaluations every `minutes` of TRAINING time.

    Called at each batch end, it returns True at the first logging boundary
    (`timer.steps` a multiple of `every_n_steps`) after `timer.elapsed` passes
    each multiple of `minutes` (once per multiple, however many a slow step
    skips), so the results land in that interval's metrics record; with
    `at_end`, also once the timer's budget is spent.

    Args:
        timer: `TrainTimeBudget`, first in the callback list.
        minutes: float > 0.
        every_n_steps: int > 0. The run's logging interval.
        at_end: bool, default False.
        offset_seconds: float, default 0. Training time before this process
            (a resumed run's), added to `timer.elapsed`.
    """

    def __init__(self, timer, minutes, every_n_steps, at_end=False, offset_seconds=0.0):
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not minutes > 0:
            raise ValueError(f"Expected `minutes` > 0. Received: minutes={minutes!r}")
        if not isinstance(every_n_steps, int) or every_n_steps <= 0:
            raise ValueError(f"Expected `every_n_steps` > 0. Received: {every_n_steps!r}")
        self.timer = timer
        self.seconds = float(minutes) * 60.0
        self.every_n_steps = every_n_steps
        self.at_end = at_end
        self.offset = float(offset_seconds)
        self.next = self.seconds * (math.floor(self.offset / self.seconds) + 1)

    def __call__(self):
        if self.timer.exhausted:
            return self.at_end
        elapsed = self.offset + self.timer.elapsed
        if elapsed < self.next or self.timer.steps % self.every_n_steps:
            return False
        while self.next <= elapsed:
            self.next += self.seconds
        return True


class LipschitzMonitor(keras.callbacks.Callback):
    """Logs the discriminator's largest Jacobian norm on a fixed batch.

    Every `every_n_steps` training steps, estimates max_b ||dD(x_b)/dx_b||
    (D in inference mode, so the ISN power iteration is not advanced) on the
    fixed `images`, writes it into the batch logs as `lipschitz_d` (callbacks
    after this one, e.g. JSONL or TensorBoard writers, see it), into the epoch
    logs as the last value, into `self.history` as `(step, value)`, and to
    TensorBoard under `log_dir` if given.

    Args:
        images: `[B, H, W, C]` float array in [-1, 1], the fixed batch
            (e.g. 16 real images).
        every_n_steps: int, default 200. With 10 iterations the estimate
            costs about 20 discriminator forward+backward passes on B images
            (its cost against a training step: `python bench/lipschitz_cost.py`,
            figures in docs/performance.md).
        num_iterations: int, default 10. Power-iteration steps.
        log_dir: str, default None. TensorBoard folder for a `lipschitz_d`
            scalar.
        discriminator: a model, default None (`self.model.discriminator`).

    Reference:
        Kim et al., "The Lipschitz Constant of Self-Attention",
        arXiv 2006.04710; ViTGAN section 4.1.
    """

    def __init__(self, images, every_n_steps=200, num_iterations=10, log_dir=None, discriminator=None):
        super().__init__()
        if every_n_steps <= 0:
            raise ValueError(f"Expected `every_n_steps` > 0. Received: every_n_steps={every_n_steps}")
        self.images = tf.convert_to_tensor(images, tf.float32)
        if self.images.shape.rank != 4:
            raise ValueError(f"Expected images [B, H, W, C]. Received shape {self.images.shape}")
        self.every_n_steps = int(every_n_steps)
        self.num_iterations = int(num_iterations)
        self.log_dir = log_dir
        self.discriminator = discriminator
        self.history = []
        self._estimate = None
        self._writer = None
        self._step = 0
        self._steps = StepCounter()

    def estimate(self):
        """The current estimate, max over the fixed batch (a Python float)."""
        if self._estimate is None:
            disc = self.discriminator or self.model.discriminator
            self._estimate = tf.function(
                lambda x: tf.reduce_max(
                    jacobian_norm(lambda y: disc(y, training=False), x, self.num_iterations)
                )
            )
        return float(self._estimate(self.images))

    def on_train_begin(self, logs=None):
        if self.log_dir and self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        self._steps.start(self.model)

    def on_train_batch_end(self, batch, logs=None):
        self._step = self._steps.batch_end()  # a ViTGAN's train_steps
        if self._step % self.every_n_steps:
            return
        value = self.estimate()
        self.history.append((self._step, value))
        if logs is not None:
            logs["lipschitz_d"] = value
        if self._writer is not None:
            with self._writer.as_default():
                tf.summary.scalar("lipschitz_d", value, step=self._step)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.history:
            logs["lipschitz_d"] = self.history[-1][1]


class FIDCallback(keras.callbacks.Callback):
    """Computes FID (and KID) of `model.ema_generator` every `every_n_steps` steps.

    Uses exactly the code of `python -m vitgan_tf.evaluate`. Results are
    written into the batch `logs` (so callbacks placed AFTER this one in the
    list, e.g. TensorBoard or a JSONL logger, see them) and into the logs of
    the epoch in which they were computed; names state the sample count
    (`fid10k`, `kid2k`, `kid2k_std`; the std only when KID has more than one
    block of samples). Latents are fixed (seeded) across
    evaluations. The reference statistics are cached (see
    `reference_statistics`).

    Args:
        dataset: str. Real dataset, e.g. "fashion_mnist".
        split: str, default "train". Real split.
        every_n_steps: int, default 5000. Training steps between evaluations.
        num_samples: int, default 10000. Generated images for FID.
        kid_samples: int, default 2000. Images (per side) for KID; 0 disables KID.
        real_samples: int or None, default None (the whole split).
        batch_size: int, default 50.
        seed: int, default 0. Seed of the fixed latents.
        extractor: `InceptionFeatureExtractor` or None (built at first use).
        generator_attr: str, default "ema_generator". Attribute of the
            training model holding the generator.
        verbose: int, default 1. 1 prints the results, 2 also progress bars.
        final_trigger: callable returning bool, or None. Also evaluate at a
            batch end where it returns True (e.g. a training-time budget that
            has just stopped the run: `lambda: budget.exhausted`).
        cache: bool or None, default None. Read / write the cached reference
            statistics; None: only for an extractor whose `features_id` is
            `evaluation.FEATURES_ID` (the `InceptionFeatureExtractor`), so
            that a stand-in's features never pass for Inception's.

    Example:
    >>> gan.fit(ds, callbacks=[FIDCallback("fashion_mnist", every_n_steps=2000,
    ...                                    num_samples=5000), tensorboard_cb])

    Reference:
        Heusel et al., arXiv 1706.08500; Binkowski et al., arXiv 1801.01401.
    """

    def __init__(self, dataset, split="train", every_n_steps=5000, num_samples=10000,
                 kid_samples=2000, real_samples=None, batch_size=50, seed=0, extractor=None,
                 generator_attr="ema_generator", verbose=1, final_trigger=None, cache=None):
        super().__init__()
        for name, value in (("every_n_steps", every_n_steps), ("num_samples", num_samples),
                            ("batch_size", batch_size)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"Expected `{name}` > 0. Received: {name}={value!r}")
        if not isinstance(kid_samples, int) or kid_samples < 0 or kid_samples > num_samples:
            raise ValueError(
                f"Expected 0 <= `kid_samples` <= num_samples={num_samples}. Received: kid_samples={kid_samples!r}"
            )
        self.dataset = dataset
        self.split = split
        self.every_n_steps = every_n_steps
        self.num_samples = num_samples
        self.kid_samples = kid_samples
        self.real_samples = real_samples
        self.batch_size = batch_size
        self.seed = seed
        self.extractor = extractor
        self.generator_attr = generator_attr
        self.verbose = verbose
        self._reference = None
        self._pending = {}
        self._steps = StepCounter()
        self.final_trigger = final_trigger
        self.cache = cache
        self.history = []  # [(step, {name: value})]

    def _generator(self):
        gen = getattr(self.model, self.generator_attr, None)
        if gen is None:
            raise AttributeError(
                f"FIDCallback: the training model {type(self.model).__name__} has no "
                f"`{self.generator_attr}` attribute (expected the EMA generator)."
            )
        return gen

    def evaluate(self):
        """Computes the metrics now; returns {name: float}."""
        if self.extractor is None:
            from vitgan_tf.metrics.inception import InceptionFeatureExtractor  # noqa: PLC0415

            self.extractor = InceptionFeatureExtractor(batch_size=self.batch_size)
        gen = self._generator()
        progress = self.verbose >= 2
        if self._reference is None:
            cache = self.cache
            if cache is None:  # the Inception network states its features; a stand-in does not
                cache = getattr(self.extractor, "features_id", None) == FEATURES_ID
            self._reference = reference_statistics(
                self.dataset, self.split, image_size=getattr(gen, "image_size", None), num_samples=self.real_samples,
                kid_samples=self.kid_samples, extractor=self.extractor, batch_size=self.batch_size,
                cache=cache, progress=progress,
            )
        results = evaluate_generator(gen, self._reference, self.extractor, self.num_samples,
                                     self.kid_samples, self.seed, self.batch_size, progress)
        # KID's std is undefined (NaN) with a single block of samples: not logged, so
        # that it cannot trip `NaNGuard` or block `Checkpoint`.
        return {k: v for k, v in results.items() if not (k.endswith("_std") and not math.isfinite(v))}

    def on_train_begin(self, logs=None):
        self._steps.start(self.model)

    def on_train_batch_end(self, batch, logs=None):
        step = self._steps.batch_end()  # a ViTGAN's train_steps (survives a resume)
        final = self.final_trigger is not None and self.final_trigger()
        if step % self.every_n_steps and not final:
            return
        results = self.evaluate()
        self.history.append((step, results))
        if self.verbose:
            text = ", ".join(f"{k}={v:.4g}" for k, v in results.items())
            print(f"\nFIDCallback step {step}: {text}")
        if logs is not None:
            logs.update(results)
        self._pending.update(results)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._pending:
            logs.update(self._pending)
        self._pending = {}
