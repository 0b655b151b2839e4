"""DiffAugment ops against numpy references."""

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from vitgan_tf.training import augment


def images(batch=4, size=8, channels=2, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, (batch, size, size, channels)).astype("float32")


def shift_reference(x, dy, dx):
    """out[i, j] = x[i - dy, j - dx], zero outside."""
    out = np.zeros_like(x)
    h, w = x.shape[:2]
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[i, j] = x[i - dy, j - dx]
    return out


class AugmentTest(TestCase):
    def test_translation_shifts_content(self):
        x = images()
        params = augment.sample_params(4, 8, keras.random.SeedGenerator(3), "translation", p=1.0,
                                       translation_ratio=0.25)
        y = keras.ops.convert_to_numpy(augment.apply_params(x, params))
        shifts = keras.ops.convert_to_numpy(params["shift"]).astype(int)
        self.assertTrue(np.any(shifts != 0))
        self.assertTrue(np.all(np.abs(shifts) <= 2))
        for k in range(4):
            self.assertAllClose(y[k], shift_reference(x[k], *shifts[k]), atol=1e-6)

    def test_cutout_zeroes_a_square(self):
        x = images() * 0.5 + 0.6  # no zeros in the input
        y = keras.ops.convert_to_numpy(augment.cutout(x, keras.random.SeedGenerator(1), ratio=0.5))
        for k in range(4):
            zero = np.all(y[k] == 0, axis=-1)
            rows, cols = np.nonzero(zero)
            # A 4x4 square clipped at the borders: a full rectangle of zeros.
            self.assertEqual(zero.sum(), (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1))
            self.assertLessEqual(rows.max() - rows.min() + 1, 4)
            self.assertGreater(zero.sum(), 0)
            self.assertAllClose(y[k][~zero], x[k][~zero])

    def test_color_ops_change_values_and_are_not_clipped(self):
        # As in the reference DiffAugment_tf.py: no clip to [-1, 1].
        x = images(batch=16, channels=3)
        for op in (augment.brightness, augment.saturation, augment.contrast):
            y = keras.ops.convert_to_numpy(op(x, keras.random.SeedGenerator(0)))
            self.assertGreater(np.abs(y - x).mean(), 1e-3, op.__name__)
            self.assertGreater(np.abs(y).max(), 1.0, op.__name__)

    def test_brightness_keeps_the_gradient_of_saturated_pixels(self):
        x = tf.constant(np.sign(images(channels=3)))  # every pixel at -1 or +1
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(augment.brightness(x, keras.random.SeedGenerator(0)))
        self.assertAllClose(tape.gradient(total, x), np.ones(x.shape, "float32"))

    def test_brightness_adds_a_constant_per_image(self):
        x = images(channels=3)
        y = keras.ops.convert_to_numpy(augment.brightness(x, keras.random.SeedGenerator(0)))
        delta = y - x
        self.assertAllClose(delta, np.broadcast_to(delta[:, :1, :1, :1], delta.shape), atol=1e-6)
        self.assertTrue(np.all(np.abs(delta[:, 0, 0, 0]) <= 0.5))

    def test_saturation_keeps_channel_mean(self):
        x = images(channels=3)
        y = keras.ops.convert_to_numpy(augment.saturation(x, keras.random.SeedGenerator(0)))
        self.assertAllClose(y.mean(-1), x.mean(-1), atol=1e-6)

    def test_contrast_keeps_image_mean(self):
        x = images(channels=3)
        y = keras.ops.convert_to_numpy(augment.contrast(x, keras.random.SeedGenerator(0)))
        self.assertAllClose(y.mean((1, 2, 3)), x.mean((1, 2, 3)), atol=1e-6)

    def test_scaling_zooms_about_the_centre(self):
        # A centred 2x2 block in an 8x8 image under zoom 2: output pixel i
        # reads source (i + 0.5 - 4) / 2 + 3.5, bilinearly, per axis.
        x = np.zeros((1, 8, 8, 1), "float32")
        x[0, 3:5, 3:5, 0] = 1.0
        params = {"scale": np.array([2.0], "float32")}
        y = keras.ops.convert_to_numpy(augment.apply_params(x, params))[0, :, :, 0]
        profile = np.array([0, 0.25, 0.75, 1, 1, 0.75, 0.25, 0], "float32")
        self.assertAllClose(y, np.outer(profile, profile), atol=1e-6)
        identity = augment.apply_params(x, {"scale": np.ones((1,), "float32")})
        self.assertAllClose(identity, x)

    def test_p_zero_is_identity_and_same_seed_same_result(self):
        x = images()
        y = augment.diff_augment(x, keras.random.SeedGenerator(0), p=0.0)
        self.assertAllClose(y, x, atol=1e-6)
        a = augment.diff_augment(x, keras.random.SeedGenerator(5), p=0.8)
        b = augment.diff_augment(x, keras.random.SeedGenerator(5), p=0.8)
        self.assertAllClose(a, b)

    def test_sliced_parameters_equal_the_global_batch(self):
        x = images(batch=6)
        params = augment.sample_params(6, 8, keras.random.SeedGenerator(2), p=1.0)
        whole = keras.ops.convert_to_numpy(augment.apply_params(x, params))
        half = augment.apply_params(x[3:], augment.slice_params(params, 3, 3))
        self.assertAllClose(half, whole[3:], atol=1e-6)

    def test_gradients_flow_to_images(self):
        x = tf.constant(images())
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(augment.diff_augment(x, keras.random.SeedGenerator(0), p=1.0))
        grad = tape.gradient(y, x)
        self.assertGreater(float(tf.reduce_sum(tf.abs(grad))), 0.0)

    def test_bad_policy_and_probability(self):
        with self.assertRaisesRegex(ValueError, "rotate"):
            augment.parse_policy("color,rotate")
        with self.assertRaisesRegex(ValueError, "p=1.5"):
            augment.sample_params(2, 8, 0, p=1.5)
        with self.assertRaisesRegex(ValueError, r"missing: \['cutout'\]"):
            augment.sample_params(2, 8, 0, "color,cutout", p={"color": 0.5})
        with self.assertRaisesRegex(ValueError, r"unknown: \['blur'\]"):
            augment.sample_params(2, 8, 0, "color", p={"color": 0.5, "blur": 0.1})
        with self.assertRaisesRegex(ValueError, "p=2"):
            augment.sample_params(2, 8, 0, "color", p={"color": 2})

    def test_flip_mirrors_columns_where_drawn(self):
        x = images(batch=64)
        params = to_numpy(augment.sample_params(64, 8, keras.random.SeedGenerator(3), "flip", p=0.5))
        flip = params["flip"]
        self.assertTrue(set(np.unique(flip)) == {0.0, 1.0})
        want = np.where(flip[:, None, None, None] > 0, x[:, :, ::-1, :], x)
        self.assertAllClose(augment.apply_params(x, params), want, atol=1e-6)

    def test_per_op_probabilities(self):
        """A dict gates each op at its own rate (the authors' 0.8 / 0.45 / 0.3)."""
        n = 4000
        p = {"color": 0.8, "translation": 0.0, "flip": 0.45, "cutout": 0.3}
        params = to_numpy(augment.sample_params(n, 8, keras.random.SeedGenerator(4),
                                                "color,translation,flip,cutout", p=p))
        rates = {"color": (params["brightness"] != 0).mean(), "flip": params["flip"].mean(),
                 "translation": (params["shift"] != 0).any(axis=1).mean(),
                 "cutout": (params["cutout_size"] != 0).mean()}
        for op, rate in rates.items():
            self.assertAllClose(rate, p[op], atol=4 * np.sqrt(0.25 / n), msg=op)


# === Colour ops against DiffAugment_tf.py in numpy, on the drawn parameters ===


def np_color(x, brightness, saturation, contrast):
    """rand_brightness, rand_saturation, rand_contrast of DiffAugment_tf.py (float64).

    The factors are given per image: x + b; (x - channel mean) * s + channel mean;
    (x - image mean) * c + image mean, in that order.
    """
    x = x.astype("float64") + np.asarray(brightness, "float64")[:, None, None, None]
    mean = x.mean(axis=3, keepdims=True)
    x = (x - mean) * np.asarray(saturation, "float64")[:, None, None, None] + mean
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return (x - mean) * np.asarray(contrast, "float64")[:, None, None, None] + mean


def to_numpy(params):
    return {key: keras.ops.convert_to_numpy(value) for key, value in params.items()}


# The factor ranges of DiffAugment (Zhao et al.) as augment.py documents them:
# brightness adds U[-0.5, 0.5), saturation scales by U[0, 2), contrast by U[0.5, 1.5).
RANGES = {"brightness": (-0.5, 0.5), "saturation": (0.0, 2.0), "contrast": (0.5, 1.5)}
IDENTITY = {"brightness": 0.0, "saturation": 1.0, "contrast": 1.0}


class ColorReferenceTest(TestCase):
    def test_color_policy_equals_numpy_on_its_injected_parameters(self):
        x = images(batch=64, size=4, channels=3)
        params = to_numpy(augment.sample_params(64, 4, keras.random.SeedGenerator(11), "color", p=0.8))
        self.assertEqual(sorted(params), ["brightness", "contrast", "saturation"])
        expected = np_color(x, params["brightness"], params["saturation"], params["contrast"])
        self.assertAllClose(augment.apply_params(x, params), expected, atol=2e-6, rtol=1e-6)
        # diff_augment draws the same parameters from the same seed.
        self.assertAllClose(augment.diff_augment(x, keras.random.SeedGenerator(11), "color", p=0.8),
                            expected, atol=2e-6, rtol=1e-6)
        # Each op alone, on parameters injected by hand.
        rng = np.random.default_rng(0)
        for name, (low, high) in RANGES.items():
            factors = {key: np.full((64,), value, "float32") for key, value in IDENTITY.items()}
            factors[name] = rng.uniform(low, high, 64).astype("float32")
            expected = np_color(x, factors["brightness"], factors["saturation"], factors["contrast"])
            self.assertAllClose(augment.apply_params(x, factors), expected, atol=2e-6, rtol=1e-6,
                                msg=name)

    def test_single_ops_equal_numpy_on_their_own_draws(self):
        # The single ops take no parameters: replicate their draws with a twin seed
        # generator in the order augment.py draws them (the gate first when p < 1).
        x = images(batch=32, size=4, channels=3)
        batch = 32
        ops_ = {"brightness": augment.brightness, "saturation": augment.saturation,
                "contrast": augment.contrast}
        for name, op in ops_.items():
            low, high = RANGES[name]
            for p in (1.0, 0.5):
                y = keras.ops.convert_to_numpy(op(x, keras.random.SeedGenerator(5), p=p))
                twin = keras.random.SeedGenerator(5)
                gate = np.ones(batch)
                if p < 1.0:
                    gate = (keras.ops.convert_to_numpy(keras.random.uniform((batch,), seed=twin)) < p)
                draw = keras.ops.convert_to_numpy(
                    keras.random.uniform((batch,), *((0.0, 1.0) if name == "brightness" else (low, high)),
                                         seed=twin)).astype("float64")
                if name == "brightness":
                    draw = draw - 0.5
                factors = dict(IDENTITY)
                factors[name] = IDENTITY[name] + gate * (draw - IDENTITY[name])
                full = {k: np.broadcast_to(v, (batch,)) for k, v in factors.items()}
                expected = np_color(x, full["brightness"], full["saturation"], full["contrast"])
                self.assertAllClose(y, expected, atol=2e-6, rtol=1e-6, msg=f"{name} p={p}")
                self.assertTrue(np.all((draw >= low) & (draw < high)), name)
                if p < 1.0:
                    self.assertTrue(0 < gate.sum() < batch, name)  # both branches exercised

    def test_factor_ranges_are_uniform_over_the_reference_intervals(self):
        n = 8192
        params = to_numpy(augment.sample_params(n, 4, keras.random.SeedGenerator(2), "color", p=1.0))
        for name, (low, high) in RANGES.items():
            values = params[name].astype("float64")
            width = high - low
            self.assertTrue(np.all((values >= low) & (values < high)), name)
            # The whole interval is used: both ends come within 0.5% of its width.
            self.assertLess(values.min(), low + 0.005 * width, name)
            self.assertGreater(values.max(), high - 0.005 * width, name)
            # Uniform: mean and each quarter's share within 4 sigma.
            sigma_mean = width / np.sqrt(12 * n)
            self.assertLess(abs(values.mean() - (low + high) / 2), 4 * sigma_mean, name)
            counts = np.histogram(values, bins=4, range=(low, high))[0] / n
            self.assertLess(np.abs(counts - 0.25).max(), 4 * np.sqrt(0.25 * 0.75 / n), name)

    def test_gated_fraction_is_p(self):
        n, p = 4000, 0.3
        tolerance = 4 * np.sqrt(p * (1 - p) / n)  # 4 binomial sigma
        # In sample_params: each colour op has its own gate.
        params = to_numpy(augment.sample_params(n, 4, keras.random.SeedGenerator(8), "color", p=p))
        on = {name: params[name] != IDENTITY[name] for name in RANGES}
        for name, gate in on.items():
            self.assertAllClose(gate.mean(), p, atol=tolerance, msg=name)
        # Independent gates: two ops both on for about p^2 of the images.
        both = (on["brightness"] & on["saturation"]).mean()
        self.assertAllClose(both, p * p, atol=4 * np.sqrt(p * p * (1 - p * p) / n))
        # The single ops change about p of the images (an image they leave alone still
        # moves by round-off, (x - mean) * 1 + mean, under 1e-6).
        x = images(batch=n, size=2, channels=3)
        for op in (augment.brightness, augment.saturation, augment.contrast):
            y = keras.ops.convert_to_numpy(op(x, keras.random.SeedGenerator(9), p=p))
            changed = np.abs(y - x).max(axis=(1, 2, 3)) > 1e-6
            self.assertAllClose(changed.mean(), p, atol=tolerance, msg=op.__name__)
