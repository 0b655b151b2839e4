"""`FIDCallback`: FID / KID of the EMA generator every N training steps."""

import math

import keras

from vitgan_tf.metrics.evaluation import collect_statistics
from vitgan_tf.metrics.evaluation import compute_metrics
from vitgan_tf.metrics.evaluation import generator_batches
from vitgan_tf.metrics.evaluation import reference_statistics
from vitgan_tf.runs import StepCounter

__all__ = ["FIDCallback"]


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

    Example:
    >>> gan.fit(ds, callbacks=[FIDCallback("fashion_mnist", every_n_steps=2000,
    ...                                    num_samples=5000), tensorboard_cb])

    Reference:
        Heusel et al., arXiv 1706.08500; Binkowski et al., arXiv 1801.01401.
    """

    def __init__(self, dataset, split="train", every_n_steps=5000, num_samples=10000,
                 kid_samples=2000, real_samples=None, batch_size=50, seed=0, extractor=None,
                 generator_attr="ema_generator", verbose=1, final_trigger=None):
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
            self._reference = reference_statistics(
                self.dataset, self.split, image_size=getattr(gen, "image_size", None), num_samples=self.real_samples,
                kid_samples=self.kid_samples, extractor=self.extractor, batch_size=self.batch_size,
                progress=progress,
            )
        fake = collect_statistics(
            generator_batches(gen, self.num_samples, self.batch_size, self.seed), self.extractor,
            self.num_samples, kid_samples=self.kid_samples, progress=progress, label="generated",
        )
        wanted = ("fid", "kid") if self.kid_samples else ("fid",)
        results = compute_metrics(self._reference, fake, wanted)
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
