"""The generator's `latent_tokens` option: a per-token projection of w added to its input."""

import math
import os

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from vitgan_tf.models import Generator


def latents(batch, z_dim, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, z_dim)).astype("float32")


class LatentTokensTest(TestCase):
    def test_input_tokens_are_the_positions_plus_the_projected_style(self):
        gen = Generator.from_architecture("tiny", latent_tokens=3)
        tokens = (gen.image_size // gen.patch_size) ** 2
        z = latents(4, gen.z_dim)
        probe = keras.Model(gen.input, [gen.get_layer("truncation").output,
                                         gen.get_layer("position_embedding").output,
                                         gen.get_layer("input_tokens").output])
        w, positions, got = (np.asarray(t, "float64") for t in probe(z))
        projection = gen.get_layer("latent_projection")
        kernel = np.asarray(projection.kernel, "float64") / math.sqrt(w.shape[1])  # lr multiplier 1
        per_token = (w @ kernel + np.asarray(projection.bias, "float64")).reshape(4, tokens, 3)
        mix = np.asarray(gen.get_layer("latent_tokens").kernel, "float64")  # [3, hidden], no bias
        self.assertEqual(mix.shape, (3, gen.hidden_dim))
        self.assertAllClose(got, positions + per_token @ mix, atol=1e-5)
        # Different latents now give different input tokens (the paper's G: the same for all).
        self.assertGreater(np.abs(got[0] - got[1]).max(), 1e-2)

    def test_off_by_default_and_old_configs_load(self):
        gen = Generator.from_architecture("tiny")
        self.assertEqual(gen.latent_tokens, 0)
        names = [layer.name for layer in gen.layers]
        self.assertNotIn("latent_projection", names)
        config = gen.get_config()
        config.pop("latent_tokens")
        self.assertEqual(len(Generator.from_config(config).weights), len(gen.weights))

    def test_saved_loaded_truncated_and_every_variable_gets_a_gradient(self):
        gen = Generator.from_architecture("tiny", latent_tokens=2)
        z = latents(4, gen.z_dim)
        gen(z, training=True)  # move w_avg
        path = os.path.join(self.get_temp_dir(), "g.keras")
        gen.save(path)
        restored = keras.saving.load_model(path, safe_mode=True)
        self.assertEqual(restored.latent_tokens, 2)
        self.assertAllClose(restored(z), gen(z), atol=1e-6)
        # psi = 0: every z gives the image of w_avg, through the latent tokens too.
        at_mean = gen.generate(z, truncation_psi=0.0).numpy()
        self.assertAllClose(at_mean[0], at_mean[3], atol=1e-6)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(gen(z, training=True)))
        self.assert_every_variable_has_a_gradient(
            gen.trainable_variables, tape.gradient(loss, gen.trainable_variables))

    def test_bad_value(self):
        for value in (-1, 2.5, True):
            with self.assertRaisesRegex(ValueError, "latent_tokens"):
                Generator.from_architecture("tiny", latent_tokens=value)
