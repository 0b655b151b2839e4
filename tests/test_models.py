"""Generator and discriminator: presets, determinism, precision, saving, gradients."""

import copy
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.test_case import TestCase
from vitgan_tf import layers
from vitgan_tf.models import PRESETS, Discriminator, Generator, flops
from vitgan_tf.models.__main__ import main as summary_main


def tiny_pair(**overrides):
    return Generator.from_architecture("tiny", **overrides), Discriminator.from_architecture("tiny")


class PresetShapesTest(TestCase):
    def test_every_preset_builds_with_expected_shapes(self):
        for name, preset in PRESETS.items():
            with self.subTest(preset=name):
                keras.backend.clear_session()
                gen = Generator.from_architecture(name)
                disc = Discriminator.from_architecture(name)
                z = np.random.default_rng(0).normal(size=(2, preset["z_dim"])).astype("float32")
                images = gen(z)
                side, channels = preset["image_size"], preset["channels"]
                self.assertEqual(tuple(images.shape), (2, side, side, channels))
                self.assertEqual(images.dtype, tf.float32)
                logits = disc(images)
                self.assertEqual(tuple(logits.shape), (2, 1))
                self.assertEqual(logits.dtype, tf.float32)
                self.assertTrue(np.all(np.isfinite(images.numpy())))
                # The paper's shapes: 64 tokens for every paper preset.
                if name in ("cifar10", "celeba64", "lsun_bedroom64"):
                    self.assertEqual((side // preset["patch_size"]) ** 2, 64)
                    self.assertEqual(gen.hidden_dim, 384)
                    self.assertEqual(disc.num_heads, 6)

    def test_discriminator_is_isn_l2_throughout(self):
        disc = Discriminator.from_architecture("tiny")
        attention = [l for l in _all_layers(disc) if isinstance(l, layers.L2MultiHeadAttention)]
        self.assertLen(attention, disc.depth)
        dense_like = [l for l in _all_layers(disc)
                      if isinstance(l, (keras.layers.Dense, keras.layers.Conv2D))]
        wrappers = [l for l in _all_layers(disc) if isinstance(l, layers.ImprovedSpectralNormalization)]
        # Every projection (attention, MLP, patch embedding, logit) is wrapped.
        self.assertEqual({id(w.layer) for w in wrappers}, {id(l) for l in dense_like})

    def test_dot_and_plain_sn_variants(self):
        disc = Discriminator.from_architecture("tiny", attention="dot", spectral_norm="sn")
        self.assertEmpty([l for l in _all_layers(disc) if isinstance(l, layers.L2MultiHeadAttention)])
        for wrapper in [l for l in _all_layers(disc) if isinstance(l, layers.ImprovedSpectralNormalization)]:
            self.assertEqual(float(wrapper.sigma_init.numpy()), 1.0)

    def test_each_projection_sigma_at_init_is_what_its_parametrisation_claims(self):
        # numpy SVD of every D projection at init: glorot ISN keeps the
        # initializer's norm (0.3-ish for the 8x8 patch conv, below 1); under
        # the equalized learning rate it is gain / sqrt(fan_in) * sigma(raw),
        # gain 1 except W_qk's temperature gain (2 sqrt(d_h))^-1/2.
        for equalized in (False, True):
            disc = Discriminator.from_architecture("tiny", equalized_lr=equalized)
            for wrapper in [l for l in _all_layers(disc)
                            if isinstance(l, layers.ImprovedSpectralNormalization)]:
                raw = wrapper.kernel.numpy()
                sigma_raw = np.linalg.svd(raw.reshape(-1, raw.shape[-1]), compute_uv=False)[0]
                claim = sigma_raw
                if equalized:
                    gain = 1.0
                    if "query_key" in wrapper.name:
                        gain = (2.0 * np.sqrt(disc.hidden_dim // disc.num_heads)) ** -0.5
                    claim = gain / np.sqrt(np.prod(raw.shape[:-1])) * sigma_raw
                with self.subTest(equalized=equalized, layer=wrapper.path):
                    self.assertAllClose(float(wrapper.sigma_init.numpy()), claim, rtol=1e-5)
                    effective = wrapper.normalized_kernel().numpy()
                    self.assertAllClose(
                        np.linalg.svd(effective.reshape(-1, effective.shape[-1]),
                                      compute_uv=False)[0], claim, rtol=1e-4)
        # Equalized: every projection but W_qk (and the 1-wide logit) sits near 2.
        disc = Discriminator.from_architecture("fashion_mnist", depth=1, hidden_dim=128, mlp_dim=256,
                                         num_heads=4, equalized_lr=True)
        sigmas = {w.name: float(w.sigma_init.numpy()) for w in _all_layers(disc)
                  if isinstance(w, layers.ImprovedSpectralNormalization)}
        for name, sigma in sigmas.items():
            low, high = ((0.5, 0.7) if "query_key" in name else (0.8, 1.3) if "logit" in name
                         else (1.5, 2.6))
            self.assertBetween(sigma, low, high, name)


def _all_layers(model):
    """Every layer nested in `model` (Keras 3 `_flatten_layers`)."""
    return list(model._flatten_layers(include_self=False, recursive=True))


class DeterminismAndPrecisionTest(TestCase):
    def test_same_seed_same_output(self):
        outputs = []
        for _ in range(2):
            keras.backend.clear_session()
            keras.utils.set_random_seed(123)
            gen, disc = tiny_pair()
            z = keras.random.normal((3, gen.z_dim), seed=7)
            images = gen(z)
            outputs.append((images.numpy(), disc(images).numpy()))
        self.assertAllEqual(outputs[0][0], outputs[1][0])
        self.assertAllEqual(outputs[0][1], outputs[1][1])
        keras.utils.set_random_seed(124)
        gen, _ = tiny_pair()
        self.assertNotAllClose(gen(keras.random.normal((3, gen.z_dim), seed=7)).numpy(), outputs[0][0])

    def test_different_latents_give_different_images(self):
        gen, _ = tiny_pair()
        z = np.random.default_rng(0).normal(size=(4, gen.z_dim)).astype("float32")
        images = gen(z).numpy()
        spread = np.std(images, axis=0).mean()
        self.assertGreater(spread, 1e-3)

    def test_mixed_float16(self):
        keras.mixed_precision.set_global_policy("mixed_float16")
        gen, disc = tiny_pair()
        z = np.random.default_rng(0).normal(size=(2, gen.z_dim)).astype("float32")
        images = gen(z)
        logits = disc(images, training=True)
        self.assertEqual(images.dtype, tf.float32)
        self.assertEqual(logits.dtype, tf.float32)
        self.assertTrue(np.all(np.isfinite(logits.numpy())))
        self.assertEqual(disc.get_layer("block_0").attention.compute_dtype, "float16")
        # Variables stay float32.
        self.assertTrue(all(v.dtype == "float32" for v in gen.weights + disc.weights))


class SavingTest(TestCase):
    def test_keras_roundtrip(self):
        gen, disc = tiny_pair()
        z = np.random.default_rng(0).normal(size=(2, gen.z_dim)).astype("float32")
        images = gen(z).numpy()
        disc(images, training=True)  # move the ISN vectors off their initial values
        for model, x in ((gen, z), (disc, images)):
            path = os.path.join(self.get_temp_dir(), f"{model.name}.keras")
            model.save(path)
            restored = keras.saving.load_model(path, safe_mode=True)
            self.assertIsInstance(restored, type(model))
            self.assertEqual(restored.get_config(), model.get_config())
            self.assertAllClose(restored(x).numpy(), model(x).numpy(), atol=1e-6)

    def test_config_is_constructor_arguments(self):
        # A non-default argument each: from_config must rebuild the same model, so with
        # the same weights it gives the same outputs (a dropped or misread argument
        # changes the config, the weights' shapes or the outputs).
        gen = Generator.from_architecture("tiny", decoder_activation="sin")
        config = gen.get_config()
        self.assertEqual(config["decoder_activation"], "sin")
        clone = Generator.from_config(copy.deepcopy(config))
        self.assertEqual(clone.get_config(), config)
        clone.set_weights(gen.get_weights())
        z = np.random.default_rng(0).normal(size=(3, gen.z_dim)).astype("float32")
        self.assertAllClose(clone(z).numpy(), gen(z).numpy(), atol=1e-6, rtol=1e-6)

        disc = Discriminator.from_architecture("tiny", attention="dot", spectral_norm="sn")
        config = disc.get_config()
        self.assertEqual((config["attention"], config["spectral_norm"]), ("dot", "sn"))
        clone = Discriminator.from_config(copy.deepcopy(config))
        self.assertEqual(clone.get_config(), config)
        clone.set_weights(disc.get_weights())
        images = np.random.default_rng(1).uniform(-1, 1, (3, 16, 16, 3)).astype("float32")
        self.assertAllClose(clone(images).numpy(), disc(images).numpy(), atol=1e-6, rtol=1e-6)


class TruncationTest(TestCase):
    """`w_avg` and `Generator.generate(z, truncation_psi)`."""

    def trained_w_avg_generator(self):
        gen = Generator.from_architecture("tiny")
        for seed in range(3):  # move w_avg off zero, as training does
            gen(np.random.default_rng(seed).normal(size=(8, gen.z_dim)).astype("float32"), training=True)
        return gen

    def test_psi_one_is_the_plain_output_and_psi_zero_is_w_avg(self):
        gen = self.trained_w_avg_generator()
        w_avg = gen.w_avg.numpy()
        self.assertGreater(np.abs(w_avg).max(), 0.0)
        z = np.random.default_rng(5).normal(size=(3, gen.z_dim)).astype("float32")
        np.testing.assert_array_equal(gen.generate(z).numpy(), gen(z).numpy())
        np.testing.assert_array_equal(gen.generate(z, truncation_psi=1.0).numpy(), gen(z).numpy())
        np.testing.assert_array_equal(gen.generate(z, tf.constant(1.0)).numpy(), gen(z).numpy())
        # psi = 0: every z gives the image of w_avg.
        at_mean = gen.generate(z, truncation_psi=0.0).numpy()
        of_w_avg = gen.synthesis(np.broadcast_to(w_avg, (3, w_avg.size))).numpy()
        self.assertAllClose(at_mean, of_w_avg, atol=1e-6)
        self.assertAllClose(at_mean[0], at_mean[2], atol=1e-6)
        # psi = 0.5: the synthesis of w halfway to the mean (an independent lerp).
        w = gen.mapping(z).numpy()
        self.assertAllClose(gen.generate(z, truncation_psi=0.5).numpy(),
                            gen.synthesis(w_avg + 0.5 * (w - w_avg)).numpy(), atol=1e-6)
        # Inference calls leave w_avg alone.
        self.assertAllClose(gen.w_avg.numpy(), w_avg)

    def test_w_avg_is_saved_and_an_old_config_builds_without_it(self):
        gen = self.trained_w_avg_generator()
        path = os.path.join(self.get_temp_dir(), "g.keras")
        gen.save(path)
        restored = keras.saving.load_model(path, safe_mode=True)
        self.assertAllClose(restored.w_avg.numpy(), gen.w_avg.numpy())
        z = np.random.default_rng(1).normal(size=(2, gen.z_dim)).astype("float32")
        self.assertAllClose(restored.generate(z, 0.7).numpy(), gen.generate(z, 0.7).numpy(), atol=1e-6)
        # A config saved before w_avg existed (no "w_avg_beta" key): the same model as then.
        old = {k: v for k, v in gen.get_config().items() if k != "w_avg_beta"}
        before = Generator.from_config(old)
        self.assertIsNone(before.w_avg)
        self.assertEqual(len(before.weights), len(gen.weights) - 1)
        self.assertAllClose(before.generate(z).numpy(), before(z).numpy())
        with self.assertRaisesRegex(ValueError, "keeps no w_avg"):
            before.generate(z, 0.5)


class GradientTest(TestCase):
    def test_every_trainable_variable_gets_a_gradient(self):
        gen, disc = tiny_pair()
        z = np.random.default_rng(0).normal(size=(4, gen.z_dim)).astype("float32")
        with tf.GradientTape() as tape:
            logits = disc(gen(z, training=True), training=True)
            loss = tf.reduce_mean(tf.nn.softplus(-logits))
        variables = gen.trainable_variables + disc.trainable_variables
        grads = tape.gradient(loss, variables)
        for var, grad in zip(variables, grads):
            self.assertIsNotNone(grad, msg=f"no gradient for {var.path}")
            self.assertGreater(float(tf.reduce_max(tf.abs(grad))), 0.0, msg=f"zero gradient for {var.path}")
        # The non-trainable ISN state is not a gradient path.
        self.assertTrue(all("vector_u" in v.path or "sigma_init" in v.path for v in disc.non_trainable_variables))


class BadInputTest(TestCase):
    def test_unknown_architecture_and_preset(self):
        with self.assertRaisesRegex(ValueError, r"Unknown architecture 'cifar100'. Choices: \['celeba64', 'cifar10'"):
            Generator.from_architecture("cifar100")
        with self.assertRaisesRegex(ValueError, r"Unknown preset 'cifar100'. Built-in presets \(with weights\)"):
            Generator.from_preset("cifar100")

    def test_image_size_not_divisible_by_patch(self):
        with self.assertRaisesRegex(ValueError, "image_size=30 is not divisible by patch_size=4"):
            Generator.from_architecture("tiny", image_size=30)
        with self.assertRaisesRegex(ValueError, "image_size=30 is not divisible by patch_size=4"):
            Discriminator.from_architecture("tiny", image_size=30)

    def test_hidden_not_divisible_by_heads(self):
        with self.assertRaisesRegex(ValueError, "hidden_dim=30 is not divisible by num_heads=4"):
            Discriminator.from_architecture("tiny", hidden_dim=30, num_heads=4)
        with self.assertRaisesRegex(ValueError, "Expected `num_heads` > 0. Received: num_heads=0"):
            Generator.from_architecture("tiny", num_heads=0)

    def test_unknown_override(self):
        with self.assertRaisesRegex(ValueError, r"Unknown argument\(s\) \['z_dim'\] .*Choices"):
            Discriminator.from_architecture("tiny", z_dim=3)

    def test_wrong_input_shape(self):
        _, disc = tiny_pair()
        with self.assertRaises(ValueError):
            disc(np.zeros((1, 8, 8, 3), "float32"))


class FlopsTest(TestCase):
    def test_counts_match_a_hand_count(self):
        """Tiny preset by hand: G and D matmuls, 2 * M * N * K each."""
        cfg = dict(PRESETS["tiny"])
        tokens, hidden, mlp, heads_dim = 16, 32, 64, 32
        block = 2 * tokens * hidden * 3 * hidden + 4 * tokens * tokens * heads_dim \
            + 2 * tokens * hidden * hidden + 4 * tokens * hidden * mlp
        sln = 4 * hidden * hidden
        mapping = 2 * 16 * 32 + 2 * 32 * 32
        decoder = 2 * 16 * 2 * 16 + 2 * tokens * 32 * 32 + 2 * tokens * 16 * 16 * 16 \
            + 2 * tokens * 16 * 16 + 2 * tokens * 16 * 16 * 3
        expected_g = mapping + 2 * tokens * 2 * hidden + block + 2 * sln + sln + decoder
        self.assertEqual(flops.generator_flops(cfg)["total"], expected_g)
        t = tokens + 1
        block_d = 2 * t * hidden * 2 * hidden + 4 * t * t * hidden + 2 * t * hidden * hidden + 4 * t * hidden * mlp
        expected_d = 2 * tokens * 8 * 8 * 3 * hidden + block_d + 2 * hidden
        self.assertEqual(flops.discriminator_flops(cfg)["total"], expected_d)

    def test_training_iteration(self):
        g = flops.generator_flops(PRESETS["tiny"])["total"]
        d = flops.discriminator_flops(PRESETS["tiny"])["total"]
        # minimal: G fwd + D (fwd+bwd) on real and fake; G fwd+bwd + D fwd + input bwd.
        self.assertEqual(flops.training_iteration_flops(PRESETS["tiny"], PRESETS["tiny"], 2, bcr=False),
                         2 * (g + 6 * d + 3 * g + 2 * d))
        self.assertEqual(flops.training_iteration_flops(PRESETS["tiny"], PRESETS["tiny"], 1, bcr=True),
                         g + 12 * d + 3 * g + 2 * d)

    def test_summary_command(self):
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            summary_main(["--preset", "tiny"])
        text = out.getvalue()
        gen, disc = tiny_pair()
        self.assertIn(f"G params (M): {gen.count_params() / 1e6:.3f}", text)
        self.assertIn(f"D params (M): {disc.count_params() / 1e6:.3f}", text)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_has_all_keys(name):
    keys = set(Generator.CONFIG_KEYS) | set(Discriminator.CONFIG_KEYS)
    optional = {"mapping_lr_multiplier", "decoder_activation", "w_avg_beta", "attention", "spectral_norm",
                "equalized_lr", "patch_kernel_initializer", "latent_tokens", "mbstd_group_size"}
    assert keys - optional <= set(PRESETS[name]), sorted(keys - optional - set(PRESETS[name]))
