"""The StyleGAN2 discriminator (the hybrid's D): layers and model against numpy, R1, training.

The numpy references are written from the definitions (rosinality's
`upfirdn2d`, `ConvLayer`, `EqualLinear`, `_minibatch_stddev_layer`, as in
mlpc-ucsd/ViTGAN), with explicit windows and loops, not the layers' reshapes.
"""

import importlib.util
import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from vitgan_tf import layers
from vitgan_tf.models import StyleGAN2Discriminator
from vitgan_tf.models.stylegan2_discriminator import channel_widths
from vitgan_tf.training import run

GAIN = math.sqrt(2.0)


def np_lrelu(x):
    return np.where(x >= 0, x, 0.2 * x) * GAIN


def np_windows(x, k):
    """[B, H - k + 1, W - k + 1, C, k, k] sliding windows of NHWC `x`."""
    return np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))


def np_blur(x, pad, taps=(1, 3, 3, 1)):
    taps = np.asarray(taps, "float64")
    kernel = np.outer(taps, taps) / np.outer(taps, taps).sum()
    x = np.pad(x, ((0, 0), pad, pad, (0, 0)))
    return np.einsum("bhwcij,ij->bhwc", np_windows(x, len(taps)), kernel)


def np_conv(x, kernel, bias=None, downsample=False, activate=True):
    """StyleGAN2's ConvLayer on NHWC `x`: kernel [k, k, C, F] scaled by 1 / sqrt(k k C)."""
    k, _, channels, _ = kernel.shape
    w = kernel / math.sqrt(k * k * channels)
    if downsample:
        p = 4 - 2 + k - 1
        x = np_blur(x, ((p + 1) // 2, p // 2))
        windows = np_windows(x, k)[:, ::2, ::2]
    else:
        x = np.pad(x, ((0, 0), (k // 2, k // 2), (k // 2, k // 2), (0, 0)))
        windows = np_windows(x, k)
    out = np.einsum("bhwcij,ijcf->bhwf", windows, w)
    return np_lrelu(out + bias) if activate else out


def np_minibatch_stddev(x, group_size=4, num_features=1):
    """Loops over samples: the std over the samples sharing `b % (B / G)`."""
    batch, height, width, channels = x.shape
    group = min(group_size, batch)
    m = batch // group
    per = channels // num_features
    out = np.zeros((batch, height, width, num_features))
    for b in range(batch):
        members = x[[j for j in range(batch) if j % m == b % m]]
        for f in range(num_features):
            part = members[..., f * per:(f + 1) * per]
            std = np.sqrt(part.var(axis=0) + 1e-8)
            out[b, :, :, f] = std.mean()
    return np.concatenate([x, out], axis=-1)


def np_dense(x, kernel, bias, activate):
    out = x @ (kernel / math.sqrt(kernel.shape[0])) + bias
    return np_lrelu(out) if activate else out


def np_discriminator(disc, images):
    """The whole StyleGAN2 D in numpy, from the model's weights by layer name."""
    def weights(name):
        return [np.asarray(w, "float64") for w in disc.get_layer(name).get_weights()]

    x = np_conv(images.astype("float64"), *weights("from_rgb"))
    size = disc.image_size
    while size > 4:
        block = disc.get_layer(f"block_{size}")
        conv1, conv2, skip = ([np.asarray(w, "float64") for w in part.get_weights()]
                              for part in (block.conv1, block.conv2, block.skip))
        main = np_conv(np_conv(x, *conv1), *conv2, downsample=True)
        x = (main + np_conv(x, skip[0], downsample=True, activate=False)) / GAIN
        size //= 2
    x = np_minibatch_stddev(x, disc.mbstd_group_size)
    x = np_conv(x, *weights("last_conv"))
    x = x.reshape(len(x), -1)
    x = np_dense(x, *weights("dense"), activate=True)
    return np_dense(x, *weights("logit"), activate=False)


def randomize(model, seed=1, scale=0.5):
    """Random weights (biases too), so that every weight shows in the outputs."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=scale, size=w.shape).astype(w.dtype)
                       for w in model.get_weights()])


def normal(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


class LayersTest(TestCase):
    def test_blur_matches_numpy(self):
        x = normal(2, 7, 6, 3)
        for pad in ((2, 1), (1, 1), (0, 0)):
            got = layers.Blur(pad)(x)
            self.assertAllClose(got, np_blur(x.astype("float64"), pad), atol=1e-5)
        # A constant image stays constant away from the zero padding (the kernel sums to 1).
        self.assertAllClose(layers.Blur((0, 0))(np.ones((1, 6, 6, 1), "float32")),
                            np.ones((1, 3, 3, 1)), atol=1e-6)

    def test_equalized_conv_matches_numpy(self):
        x = normal(2, 8, 8, 3)
        for k, downsample, activate in ((3, False, True), (3, True, True), (1, True, False),
                                        (1, False, True)):
            layer = layers.EqualizedConv2D(5, k, downsample=downsample, activate=activate)
            layer.build(x.shape)
            randomize(layer)
            want = np_conv(x.astype("float64"), *[np.asarray(w, "float64") for w in layer.get_weights()],
                           downsample=downsample, activate=activate)
            got = layer(x)
            self.assertEqual(tuple(got.shape), want.shape)
            self.assertEqual(tuple(got.shape), layer.compute_output_shape(x.shape))
            self.assertAllClose(got, want, atol=1e-4, msg=f"k={k} down={downsample}")

    def test_equalized_conv_initial_weights(self):
        layer = layers.EqualizedConv2D(64, 3)
        layer.build((None, 8, 8, 32))
        kernel = layer.kernel.numpy()
        self.assertAllClose([kernel.mean(), kernel.std()], [0.0, 1.0], atol=0.02)
        self.assertAllEqual(layer.bias.numpy(), np.zeros(64))
        linear = layers.EqualizedConv2D(4, 1, activate=False)
        linear.build((None, 8, 8, 32))
        self.assertIsNone(linear.bias)
        self.assertEqual(len(linear.weights), 1)

    def test_minibatch_stddev_matches_numpy(self):
        for batch, group, features in ((8, 4, 1), (3, 4, 1), (6, 2, 2)):
            x = normal(batch, 3, 2, 4)
            got = layers.MinibatchStdDev(group, features)(x)
            self.assertAllClose(got, np_minibatch_stddev(x.astype("float64"), group, features),
                                atol=1e-5)
        with self.assertRaisesRegex(ValueError, "batch size 6 is not a multiple of the group size 4"):
            layers.MinibatchStdDev(4)(normal(6, 2, 2, 1))

    def test_dense_with_scaled_leaky_relu_matches_numpy(self):
        layer = layers.EqualizedDense(6, activation=layers.scaled_leaky_relu)
        x = normal(3, 10)
        layer.build(x.shape)
        randomize(layer)
        self.assertAllClose(layer(x), np_dense(x, *layer.get_weights(), activate=True), atol=1e-5)

    def test_scaled_leaky_relu_derivative_is_the_slopes_at_zero(self):
        # At exactly 0 (zero biases on DiffAugment's zero padding and cutout) the derivative is
        # the negative slope's on every backend; ops.leaky_relu gives 0.2 on TF but 1 on JAX.
        points = [-2.0, -1e-30, 0.0, 1e-30, 3.0]
        want = GAIN * np.array([0.2, 0.2, 0.2, 1.0, 1.0])
        x = tf.constant(points)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layers.scaled_leaky_relu(x)
        self.assertAllClose(y, np_lrelu(x.numpy()), atol=0)
        self.assertAllClose(tape.gradient(y, x), want, atol=0)
        if importlib.util.find_spec("jax") is None:
            return
        code = ("import jax, jax.numpy as jnp; from vitgan_tf import layers; "
                f"print(jax.vmap(jax.grad(layers.scaled_leaky_relu))(jnp.array({points})).tolist())")
        env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                              timeout=300, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        self.assertAllClose(json.loads(done.stdout.strip().splitlines()[-1]), want, atol=1e-7)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "blur kernel"):
            layers.Blur((1, 1), blur=(1,))
        with self.assertRaisesRegex(ValueError, "pad"):
            layers.Blur((-1, 1))
        with self.assertRaisesRegex(ValueError, "filters"):
            layers.EqualizedConv2D(0, 3)
        with self.assertRaisesRegex(ValueError, "even H"):
            layers.StyleGAN2ResidualBlock(4)(normal(2, 5, 5, 1))
        with self.assertRaisesRegex(ValueError, "image_size"):
            StyleGAN2Discriminator(image_size=24, channels=1)
        with self.assertRaisesRegex(ValueError, "width_multiplier"):
            StyleGAN2Discriminator(image_size=32, channels=1, width_multiplier=0)


class ModelTest(TestCase):
    def test_channel_widths(self):
        # The authors' small32 table at 32x32, StyleGAN2's (channel multiplier 2) at 64x64.
        self.assertEqual(channel_widths(32), {32: 128, 16: 256, 8: 512, 4: 512})
        self.assertEqual(channel_widths(64), {64: 512, 32: 512, 16: 512, 8: 512, 4: 512})
        self.assertEqual(channel_widths(32, 0.25), {32: 32, 16: 64, 8: 128, 4: 128})

    def test_forward_matches_numpy(self):
        for size, channels in ((16, 3), (8, 1)):
            disc = StyleGAN2Discriminator(size, channels, width_multiplier=1 / 64)
            randomize(disc, scale=0.7)
            images = np.tanh(normal(8, size, size, channels))
            got = disc(images)
            self.assertEqual(got.dtype, "float32")
            self.assertAllClose(got, np_discriminator(disc, images), atol=1e-4, rtol=1e-4)

    def test_saves_and_loads_in_safe_mode(self):
        import vitgan_tf  # noqa: F401  (registers the classes)

        disc = StyleGAN2Discriminator(16, 3, width_multiplier=1 / 32)
        randomize(disc)
        path = self.get_temp_dir() + "/d.keras"
        disc.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        self.assertIsInstance(loaded, StyleGAN2Discriminator)
        self.assertEqual(loaded.get_config(), disc.get_config())
        images = np.tanh(normal(4, 16, 16, 3))
        self.assertAllClose(loaded(images), disc(images), atol=1e-6)

    def test_r1_second_order_gradient_equals_float64_finite_differences(self):
        """d/dW of ||d sum(D(x)) / dx||^2 (R1 through D, mbstd included) along a random
        direction, by nested tapes and by central differences, in float64."""
        keras.config.set_floatx("float64")  # the Input layer's dtype too
        keras.config.set_dtype_policy("float64")
        try:
            disc = StyleGAN2Discriminator(8, 1, width_multiplier=1 / 64)
        finally:
            keras.config.set_dtype_policy("float32")
            keras.config.set_floatx("float32")
        self.assertEqual(disc.inputs[0].dtype, "float64")
        randomize(disc, scale=0.7)
        rng = np.random.default_rng(2)
        x = tf.constant(np.tanh(rng.normal(size=(8, 8, 8, 1))))
        variables = disc.trainable_variables
        start = [v.numpy() for v in variables]
        direction = [rng.normal(size=v.shape) for v in variables]

        def penalty():
            with tf.GradientTape() as tape:
                tape.watch(x)
                real = tf.reduce_sum(disc(x, training=True)[:4])
            return tf.reduce_sum(tape.gradient(real, x) ** 2)

        with tf.GradientTape() as tape:
            value = penalty()
        # After minibatch-stddev, D is piecewise linear in x: the biases there (the last
        # conv's, the dense layer's, the logit's) do not move D's input gradient, so their
        # derivative is zero (disconnected, with the activation's select). Every other
        # variable, mbstd's inputs' biases included, is reached.
        grads = tape.gradient(value, variables)
        self.assertEqual([v.path for v, g in zip(variables, grads) if g is None],
                         [disc.get_layer(name).bias.path
                          for name in ("last_conv", "dense", "logit")])
        grads = [tf.zeros(v.shape, "float64") if g is None else g for v, g in zip(variables, grads)]
        autodiff = sum(float(tf.reduce_sum(g * d)) for g, d in zip(grads, direction))
        eps = 1e-6
        values = []
        for sign in (1, -1):
            for v, w, d in zip(variables, start, direction):
                v.assign(w + sign * eps * d)
            values.append(float(penalty()))
        numeric = (values[0] - values[1]) / (2 * eps)
        self.assertAllClose(autodiff, numeric, rtol=1e-5)


class HybridTrainingTest(TestCase):
    def config(self, **discriminator):
        return run.merge(run.base_config(), {
            "model": {"preset": "tiny", "discriminator": {
                "architecture": "stylegan2", "width_multiplier": 1 / 32, **discriminator}},
            "data": {"batch_size": 4},
            "gan": {"r1_gamma": 0.1, "bcr_real": 1.0, "bcr_fake": 1.0, "augment_p": 0.5},
        })

    def test_config_builds_the_hybrid_and_every_variable_gets_a_gradient(self):
        config = self.config()
        run.validate(config)
        gan = run.build_gan(config)
        self.assertIsInstance(gan.discriminator, StyleGAN2Discriminator)
        self.assertEqual(gan.discriminator.width_multiplier, 1 / 32)
        real = np.tanh(normal(4, 16, 16, 3))
        d_grads, g_grads = gan.compute_gradients(real)
        self.assert_every_variable_has_a_gradient(gan.discriminator.trainable_variables, d_grads)
        self.assert_every_variable_has_a_gradient(gan.generator.trainable_variables, g_grads)
        stats = gan.apply_step(real, gan.sample_randomness(4))
        self.assertTrue(all(math.isfinite(v) for v in stats.values()), stats)
        self.assertGreater(stats["bcr"], 0.0)

    def test_config_errors(self):
        for section, message in (
                ({"architecture": "cnn"}, r"Unknown model.discriminator.architecture='cnn'"),
                ({"architecture": "stylegan2", "width": 4},
                 r"Unknown config key 'model.discriminator.width'"),
                ({"architecture": "stylegan2", "width_multiplier": "wide"},
                 r"'model.discriminator.width_multiplier' expects a float")):
            config = self.config()
            config["model"]["discriminator"] = section
            with self.assertRaisesRegex(ValueError, message):
                run.validate(config)

    def test_the_other_architectures_keys_are_named_not_used(self):
        """A recipe holds both D's keys; switching `architecture` is one --set."""
        model = {"preset": "tiny", "discriminator": {
            "architecture": "stylegan2", "width_multiplier": 1 / 32, "patch_size": 8}}
        self.assertEqual(run.unused_discriminator_keys(model), ["patch_size"])
        self.assertIsInstance(run.build_gan(self.config(patch_size=8)).discriminator,
                              StyleGAN2Discriminator)
        vit = self.config(architecture="vit", patch_size=8)
        self.assertEqual(run.unused_discriminator_keys(vit["model"]), ["width_multiplier"])
        disc = run.build_gan(vit).discriminator
        self.assertEqual((type(disc).__name__, disc.patch_size), ("Discriminator", 8))

    def test_mixed_precision_and_xla_steps_are_finite(self):
        real = np.tanh(normal(4, 16, 16, 3))
        for precision, jit in (("mixed_bfloat16", False), ("float32", True)):
            config = self.config()
            config["train"]["jit_compile"] = jit
            keras.mixed_precision.set_global_policy(precision)
            try:
                gan = run.build_gan(config)
                logs = gan.train_on_batch(real, return_dict=True)
            finally:
                keras.mixed_precision.set_global_policy("float32")
            self.assertTrue(all(math.isfinite(float(v)) for v in logs.values()), (precision, logs))


class LinearWarmupTest(TestCase):
    def test_values_and_the_configs_optimizers(self):
        from vitgan_tf.training.schedules import LinearWarmup

        schedule = LinearWarmup(1e-3, 4)
        got = [float(schedule(step)) for step in range(6)]
        self.assertAllClose(got, [2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3], rtol=1e-6)
        self.assertEqual(LinearWarmup.from_config(schedule.get_config()).get_config(),
                         schedule.get_config())
        config = run.merge(run.base_config(), {"model": {"preset": "tiny"},
                                               "optimizer": {"warmup_steps": 10, "d_lr": 2e-3}})
        gan = run.build_gan(config)
        self.assertAllClose(float(gan.d_optimizer.learning_rate), 2e-4, rtol=1e-6)
        self.assertAllClose(float(gan.g_optimizer.learning_rate), config["optimizer"]["g_lr"] / 10,
                            rtol=1e-6)
        for bad in (-1, 10**9):
            config["optimizer"]["warmup_steps"] = bad
            with self.assertRaisesRegex(ValueError, "optimizer.warmup_steps"):
                run.validate(config)
        with self.assertRaisesRegex(ValueError, "warmup_steps"):
            LinearWarmup(1e-3, 0)
