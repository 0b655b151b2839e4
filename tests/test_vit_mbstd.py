"""The ViT discriminator's minibatch-stddev option (`mbstd_group_size`) against numpy."""

import keras
import numpy as np

from tests.test_case import TestCase
from vitgan_tf import layers
from vitgan_tf.models import Discriminator
from vitgan_tf.training import run


def normal(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def np_token_stddev(tokens, group_size):
    """Loops over images: the std over the consecutive group image `b` belongs to."""
    batch = len(tokens)
    group = min(group_size, batch)
    out = np.zeros((batch, 1))
    for b in range(batch):
        start = b // group * group
        members = tokens[start:start + group]
        out[b, 0] = np.sqrt(members.var(axis=0) + 1e-8).mean()
    return out


class TokenMinibatchStdDevTest(TestCase):
    def test_matches_numpy(self):
        for batch, group in ((8, 4), (3, 4), (6, 2), (5, 1)):
            x = normal(batch, 5, 6, seed=batch)
            got = layers.TokenMinibatchStdDev(group)(x)
            self.assertAllClose(got, np_token_stddev(x.astype("float64"), group), atol=1e-5)

    def test_groups_are_consecutive_images(self):
        # Four identical images then four different ones: the first group's std is ~0.
        x = np.concatenate([np.repeat(normal(1, 3, 4), 4, axis=0), normal(4, 3, 4, seed=1)])
        got = np.asarray(layers.TokenMinibatchStdDev(4)(x))[:, 0]
        self.assertAllClose(got[:4], np.full(4, 1e-4), atol=1e-6)  # sqrt(1e-8)
        self.assertGreater(got[4:].min(), 0.3)

    def test_half_precision_input(self):
        x = normal(4, 3, 4)
        got = layers.TokenMinibatchStdDev(2, dtype="mixed_float16")(x)
        self.assertEqual(keras.backend.standardize_dtype(got.dtype), "float16")
        self.assertAllClose(np.asarray(got, "float32"), np_token_stddev(x, 2), atol=2e-3)

    def test_bad_input(self):
        with self.assertRaisesRegex(ValueError, "batch size 6 is not a multiple of the group size 4"):
            layers.TokenMinibatchStdDev(4)(normal(6, 3, 4))
        with self.assertRaisesRegex(ValueError, r"expects tokens \[batch, length, channels\]"):
            layers.TokenMinibatchStdDev(4)(normal(4, 2, 2, 3))
        with self.assertRaisesRegex(ValueError, "group_size"):
            layers.TokenMinibatchStdDev(0)


class DiscriminatorStdDevTest(TestCase):
    def test_logit_reads_the_norm_of_cls_and_the_token_stddev(self):
        disc = Discriminator.from_architecture("tiny", mbstd_group_size=4)
        images = normal(8, disc.image_size, disc.image_size, disc.channels)
        logits = np.asarray(disc(images, training=False))
        block = disc.get_layer(f"block_{disc.depth - 1}")
        probe = keras.Model(disc.input, [block.output, disc.get_layer("output_norm").output])
        tokens, cls = (np.asarray(t, "float64") for t in probe(images, training=False))
        head = disc.get_layer("isn_logit")
        kernel = np.asarray(head.normalized_kernel(), "float64")  # [hidden + 1, 1]
        bias = np.asarray(head.layer.bias, "float64")
        self.assertEqual(kernel.shape, (disc.hidden_dim + 1, 1))
        features = np.concatenate([cls, np_token_stddev(tokens, 4)], axis=1)
        self.assertAllClose(logits, features @ kernel + bias, atol=1e-5)
        # Changing one image changes the stddev of its group only: the other group's logits stay.
        other = images.copy()
        other[0] = normal(*images.shape[1:], seed=9)
        changed = np.asarray(disc(other, training=False))
        self.assertAllClose(changed[4:], logits[4:], atol=1e-6)
        self.assertGreater(np.abs(changed[1:4] - logits[1:4]).max(), 1e-5)

    def test_off_by_default_and_old_configs_load(self):
        disc = Discriminator.from_architecture("tiny")
        self.assertEqual(disc.mbstd_group_size, 0)
        self.assertNotIn("minibatch_stddev", [layer.name for layer in disc.layers])
        config = disc.get_config()
        config.pop("mbstd_group_size")
        self.assertEqual(Discriminator.from_config(config).mbstd_group_size, 0)

    def test_saved_and_loaded_in_safe_mode(self):
        disc = Discriminator.from_architecture("tiny", mbstd_group_size=2)
        path = self.get_temp_dir() + "/d.keras"
        disc.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        images = normal(4, disc.image_size, disc.image_size, disc.channels)
        self.assertAllClose(loaded(images), disc(images), atol=1e-6)
        self.assertEqual(loaded.mbstd_group_size, 2)

    def test_bad_group_size(self):
        for value in (-1, 1.5, True):
            with self.assertRaisesRegex(ValueError, "mbstd_group_size"):
                Discriminator.from_architecture("tiny", mbstd_group_size=value)


class TrainingWithStdDevTest(TestCase):
    def config(self, batch_size=4, group=2):
        return run.merge(run.base_config(), {
            "model": {"preset": "tiny", "discriminator": {"mbstd_group_size": group}},
            "data": {"batch_size": batch_size},
            "gan": {"r1_gamma": 0.1, "bcr_real": 1.0, "bcr_fake": 1.0, "augment_p": 0.5},
        })

    def test_every_variable_gets_a_gradient_and_the_stddev_weight_moves(self):
        config = self.config()
        run.validate(config)
        gan = run.build_gan(config)
        self.assertEqual(gan.discriminator.mbstd_group_size, 2)
        real = np.tanh(normal(4, 16, 16, 3))
        d_grads, g_grads = gan.compute_gradients(real)
        self.assert_every_variable_has_a_gradient(gan.discriminator.trainable_variables, d_grads)
        self.assert_every_variable_has_a_gradient(gan.generator.trainable_variables, g_grads)
        kernel = gan.discriminator.get_layer("isn_logit").layer.kernel
        grad = dict(zip([v.path for v in gan.discriminator.trainable_variables], d_grads))[kernel.path]
        self.assertGreater(abs(float(grad[-1, 0])), 0.0)  # the stddev feature's row

    def test_batch_not_a_multiple_of_the_group_is_refused_before_building(self):
        with self.assertRaisesRegex(ValueError, r"data.batch_size=6 is not a multiple of "
                                                r"model.discriminator.mbstd_group_size=4"):
            run.validate(self.config(batch_size=6, group=4))
        run.validate(self.config(batch_size=8, group=4))
