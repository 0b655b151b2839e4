"""Baseline: the DCGAN a Keras user writes first, scored in the recipe's own harness.

    python bench/cnn_baseline.py --out runs/baseline/dcgan_seed0 --minutes 25 --seed 0
    python bench/cnn_baseline.py --out runs/baseline/dcgan_120 --minutes 120 --eval-every-minutes 12

The model is the keras-io / TensorFlow-tutorial DCGAN for 28x28 images:

- G: z (128) -> Dense 7x7x256 -> BatchNorm, LeakyReLU 0.2 -> ConvTranspose 128
  and 64 (4x4, stride 2), each with BatchNorm and LeakyReLU 0.2 -> Conv 5x5 to
  1 channel, tanh (2.3M parameters).
- D: Conv 64 and 128 (4x4, stride 2), Conv 256 (3x3), each with LeakyReLU 0.2,
  then Flatten, Dropout 0.2, Dense 1 (0.44M parameters).
- Non-saturating loss, Adam(2e-4, beta_1 = 0.5) for both, batch 64, no EMA,
  no augmentation.

It trains on the same Fashion-MNIST pipeline as the recipe
(`vitgan_tf.data.make_dataset`, 28x28 padded to 32x32 with background), D
seeing the central 28x28 and G's 28x28 output padded back to 32x32 for
scoring. Time is counted and stopped exactly as in `recipes.train`
(`TrainTimeBudget`: the train steps alone, evaluations not counted), and
FID / KID come from the recipe's own `run.evaluation_callbacks` (the same
`FIDCallback`, fixed latents and cached reference statistics of 10000 real
training images), with `--eval-samples` generated images (2000: `fid2k`,
`kid2k`) at the end and every `--eval-every-minutes` of training time (KID
at the end needs that curve, as in a recipe run). The folder holds `config.json`,
`metrics.jsonl` (the recipe's record format: `step`, `images`,
`train_time`, losses, metrics), `checkpoints/generator.keras` (the 28x28 G)
and a last sample grid, so
`bench/plot_run.py` reads it like a recipe
run. It does not resume: a stopped run is started again.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import vitgan_tf  # noqa: E402,F401,I001  (first: TensorFlow's start-up notices stay quiet)
import keras  # noqa: E402 (after the path)
import tensorflow as tf  # noqa: E402

from vitgan_tf import limits  # noqa: E402
from vitgan_tf import data as data_lib  # noqa: E402
from vitgan_tf.images import make_grid, save_png, to_uint8  # noqa: E402
from vitgan_tf.runs import RunFolder  # noqa: E402
from vitgan_tf.training import callbacks as callbacks_lib  # noqa: E402

Z_DIM = 128
IMAGE = 28  # the DCGAN's own resolution
SIZE = 32  # the recipe's (and the evaluator's) resolution
PAD = (SIZE - IMAGE) // 2


def build_generator():
    """z [B, 128] -> [B, 28, 28, 1] in [-1, 1]."""
    z = keras.Input((Z_DIM,))
    x = keras.layers.Dense(7 * 7 * 256, use_bias=False)(z)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Reshape((7, 7, 256))(x)
    for filters in (128, 64):
        x = keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Conv2D(1, 5, padding="same", activation="tanh")(x)
    return keras.Model(z, x, name="dcgan_generator")


def build_discriminator():
    """[B, 28, 28, 1] -> one logit `[B, 1]`."""
    images = keras.Input((IMAGE, IMAGE, 1))
    x = images
    for filters, kernel, stride in ((64, 4, 2), (128, 4, 2), (256, 3, 1)):
        x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.2)(x)
    return keras.Model(images, keras.layers.Dense(1)(x), name="dcgan_discriminator")


class PaddedGenerator(keras.Model):
    """G's 28x28 output padded to 32x32 with background (-1), as the data pipeline pads.

    Has the attributes the evaluator reads (`z_dim`, `image_size`).
    """

    def __init__(self, generator, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.z_dim = Z_DIM
        self.image_size = SIZE

    def call(self, z, training=False):
        images = self.generator(z, training=training)
        return keras.ops.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)), constant_values=-1.0)


class DCGAN(keras.Model):
    """D step then G step per batch; no EMA (the callbacks' `ema_generator` is G)."""

    def __init__(self, seed, **kwargs):
        super().__init__(**kwargs)
        self.d = build_discriminator()
        self.g = build_generator()
        self.generator = PaddedGenerator(self.g)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.train_steps = keras.Variable(0, dtype="int64", trainable=False, name="train_steps")
        self.trackers = [keras.metrics.Mean(name=n) for n in ("d_loss", "g_loss")]

    @property
    def ema_generator(self):
        return self.generator

    @property
    def metrics(self):
        return list(self.trackers)

    def compile(self):
        super().compile()
        self.d_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.g_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)

    def train_step(self, real):
        real = real[:, PAD:PAD + IMAGE, PAD:PAD + IMAGE, :]
        batch = tf.shape(real)[0]
        z = keras.random.normal((batch, Z_DIM), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake = self.g(z, training=True)
            real_logits = self.d(real, training=True)
            fake_logits = self.d(fake, training=True)
            d_loss = tf.reduce_mean(tf.nn.softplus(-real_logits) + tf.nn.softplus(fake_logits))
        grads = tape.gradient(d_loss, self.d.trainable_variables)
        self.d_optimizer.apply_gradients(zip(grads, self.d.trainable_variables))
        z = keras.random.normal((batch, Z_DIM), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            g_loss = tf.reduce_mean(tf.nn.softplus(-self.d(self.g(z, training=True), training=True)))
        grads = tape.gradient(g_loss, self.g.trainable_variables)
        self.g_optimizer.apply_gradients(zip(grads, self.g.trainable_variables))
        self.train_steps.assign_add(1)
        for tracker, value in zip(self.trackers, (d_loss, g_loss)):
            tracker.update_state(value)
        return {m.name: m.result() for m in self.trackers}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="run folder (must not exist)")
    minutes = limits.float_arg(0, 24 * 60)
    parser.add_argument("--minutes", type=minutes, default=25.0, help="training-time budget")
    parser.add_argument("--seed", type=limits.int_arg(0, 2**31 - 1), default=0)
    parser.add_argument("--batch-size", type=limits.int_arg(1, 100000), default=64)
    parser.add_argument("--log-every", type=limits.int_arg(1, 100000), default=100)
    parser.add_argument("--eval-every-minutes", type=minutes, default=None,
                        help="evaluate each time training time passes a multiple of this "
                             "(default: half of --minutes), and at the end")
    parser.add_argument("--eval-samples", type=limits.int_arg(2, 100000), default=2000)
    parser.add_argument("--eval-real-samples", type=limits.int_arg(2, 100000), default=10000)
    parser.add_argument("--data", default="fashion_mnist",
                        help="data source (fashion_mnist; the tests use synthetic data)")
    args = parser.parse_args(argv)
    if args.eval_every_minutes is None:
        args.eval_every_minutes = args.minutes / 2
    if os.path.exists(args.out):
        parser.error(f"--out {args.out!r} exists; choose a new folder")
    return args


def run_config(args):
    """The baseline's settings as a run config: `run.evaluation_callbacks` reads its
    `train` and `data` sections exactly as it does a recipe's."""
    from vitgan_tf.training import run  # noqa: PLC0415

    config = run.merge(run.base_config(), {
        "recipe": None, "seed": args.seed,
        "data": {"source": args.data, "batch_size": args.batch_size},
        "train": {"steps": 10**9 * args.log_every, "log_every": args.log_every,
                  "train_minutes": args.minutes, "eval_every": 0,
                  "eval_every_minutes": args.eval_every_minutes,
                  "final_eval_samples": args.eval_samples, "eval_samples": args.eval_samples,
                  "eval_real_samples": args.eval_real_samples}})
    config["baseline"] = "dcgan"
    return config


def main(argv=None, extractor=None):
    """Trains the baseline; returns its last evaluation {name: value}.

    `extractor`: the evaluations' feature extractor (default the 2015 Inception).
    """
    args = parse_args(argv)
    from vitgan_tf.training import run  # noqa: PLC0415

    keras.utils.set_random_seed(args.seed)
    folder = RunFolder(args.out)
    config = run_config(args)
    dataset = data_lib.make_dataset(args.data, SIZE, 1, args.batch_size, seed=args.seed)
    folder.write_config(config)
    gan = DCGAN(args.seed)
    gan.compile()
    timer = callbacks_lib.TrainTimeBudget(args.minutes * 60.0, every_n_steps=args.log_every)
    # The recipe's own evaluation callbacks: the same FIDCallback, samples and reference.
    evaluations = run.evaluation_callbacks(config, 0, timer, extractor=extractor)
    logger = callbacks_lib.MetricsLogger(folder.metrics_path, images_per_step=args.batch_size,
                                         timer=timer)
    verbose = 1 if sys.stdout is not None and sys.stdout.isatty() else 2
    gan.fit(dataset, epochs=10**6, steps_per_epoch=args.log_every,
            callbacks=[timer, callbacks_lib.NaNGuard(), *evaluations, logger], verbose=verbose,
            shuffle=False)  # the dataset is shuffled by vitgan_tf.data
    step = int(gan.train_steps.numpy())
    os.makedirs(folder.checkpoints_dir, exist_ok=True)
    gan.g.save(folder.checkpoint_path("generator"))  # the 28x28 G (Keras layers only)
    z = keras.random.normal((64, Z_DIM), seed=args.seed)
    save_png(make_grid(to_uint8(keras.ops.convert_to_numpy(gan.generator(z)))),
             folder.samples_path(step))
    last = evaluations[-1].history[-1][1] if evaluations and evaluations[-1].history else {}
    print(f"{args.out}: {step} steps in {timer.elapsed / 60:.1f} training minutes; "
          + ", ".join(f"{k}={v:.4g}" for k, v in last.items()))
    return last


if __name__ == "__main__":
    main()
