"""Jacobian-norm estimates against exact numpy values."""

import contextlib
import io
import os

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from vitgan_tf.lipschitz import class_token_parts, jacobian_norm
from vitgan_tf.training.callbacks import LipschitzMonitor
from vitgan_tf.models import Discriminator


class JacobianNormTest(TestCase):
    def test_linear_layer_is_its_top_singular_value(self):
        w = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
        x = np.random.default_rng(1).normal(size=(3, 6)).astype("float32")
        norms = jacobian_norm(lambda v: tf.matmul(v, w) + 1.0, x, num_iterations=50).numpy()
        top = np.linalg.svd(w, compute_uv=False)[0]
        self.assertAllClose(norms, [top] * 3, rtol=1e-4)

    def test_two_layer_relu_net_at_a_point(self):
        rng = np.random.default_rng(0)
        w1, b1 = rng.normal(size=(5, 7)).astype("float32"), rng.normal(size=7).astype("float32")
        w2 = rng.normal(size=(7, 3)).astype("float32")
        x = rng.normal(size=(4, 5)).astype("float32")

        def net(v):
            return tf.matmul(tf.nn.relu(tf.matmul(v, w1) + b1), w2)

        norms = jacobian_norm(net, x, num_iterations=100).numpy()
        for b in range(4):
            mask = (x[b] @ w1 + b1 > 0).astype("float32")
            jac = (w1 * mask) @ w2  # d out / d x, [5, 3]
            self.assertAllClose(norms[b], np.linalg.svd(jac, compute_uv=False)[0], rtol=1e-4)

    def test_scalar_output_is_gradient_norm(self):
        disc = Discriminator.from_architecture("tiny")
        x = tf.random.stateless_uniform((2, 16, 16, 3), seed=[1, 2], minval=-1, maxval=1)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(disc(x, training=False))
        grad_norms = tf.norm(tf.reshape(tape.gradient(y, x), (2, -1)), axis=-1).numpy()
        self.assertAllClose(jacobian_norm(lambda v: disc(v, training=False), x, 2).numpy(), grad_norms, rtol=1e-4)

    def test_bad_iterations(self):
        with self.assertRaisesRegex(ValueError, "num_iterations=0"):
            jacobian_norm(lambda v: v, np.ones((1, 2), "float32"), num_iterations=0)


class LipschitzMonitorTest(TestCase):
    def test_logs_every_n_steps(self):
        disc = Discriminator.from_architecture("tiny")
        images = np.random.default_rng(0).uniform(-1, 1, size=(3, 16, 16, 3)).astype("float32")
        monitor = LipschitzMonitor(images, every_n_steps=2, num_iterations=2, discriminator=disc,
                                   log_dir=self.get_temp_dir())
        # A model without ViTGAN's train_steps (nor an optimizer): batches are counted.
        monitor.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
        monitor.on_train_begin()
        logged = []
        for batch in range(5):
            logs = {"d_loss": 0.0}
            monitor.on_train_batch_end(batch, logs)
            logged.append("lipschitz_d" in logs)
        self.assertEqual(logged, [False, True, False, True, False])
        self.assertEqual([step for step, _ in monitor.history], [2, 4])
        x = tf.constant(images)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(disc(x, training=False))
        expected = tf.reduce_max(tf.norm(tf.reshape(tape.gradient(y, x), (3, -1)), axis=-1))
        self.assertAllClose(monitor.history[-1][1], float(expected), rtol=1e-4)
        epoch_logs = {}
        monitor.on_epoch_end(0, epoch_logs)
        self.assertEqual(epoch_logs["lipschitz_d"], monitor.history[-1][1])

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, r"shape \(2, 3\)"):
            LipschitzMonitor(np.zeros((2, 3), "float32"))
        with self.assertRaisesRegex(ValueError, "every_n_steps=0"):
            LipschitzMonitor(np.zeros((1, 4, 4, 1), "float32"), every_n_steps=0)


class ClassTokenPartsTest(TestCase):
    def test_splits_the_token_that_feeds_the_logit(self):
        disc = Discriminator.from_architecture("tiny", depth=2)
        x = np.random.default_rng(0).uniform(-1, 1, (6, 16, 16, 3)).astype("float32")
        # The class token recomputed from D's own sub-layers, token 0 after the last block.
        h = disc.get_layer("class_token")(disc.get_layer("patch_embedding")(x))
        for i in range(disc.depth):
            h = disc.get_layer(f"block_{i}")(h)
        h = h.numpy()[:, 0]
        logit = disc.get_layer("isn_logit")(disc.get_layer("output_norm")(h))
        self.assertAllClose(logit, disc(x), atol=1e-5)  # the logit reads exactly this token
        parts = class_token_parts(disc, x)
        mean = h.mean(0)
        image = np.sqrt(((h - mean) ** 2).sum(-1).mean())
        self.assertAllClose(parts["constant"], np.linalg.norm(mean), rtol=1e-5)
        self.assertAllClose(parts["image"], image, rtol=1e-5)
        self.assertAllClose(parts["ratio"], np.linalg.norm(mean) / image, rtol=1e-5)
        with self.assertRaisesRegex(ValueError, "B >= 2"):
            class_token_parts(disc, x[:1])

    def test_diagnose_cli_names_a_missing_run(self):
        from vitgan_tf import diagnose_d

        missing = os.path.join(self.get_temp_dir(), "no_run")
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            self.assertEqual(diagnose_d.main([missing]), 2)
        self.assertIn("Run folder not found", stderr.getvalue())
        os.makedirs(missing)  # a folder that is not a run
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            self.assertEqual(diagnose_d.main([missing]), 2)
        self.assertIn("config.json' is missing", stderr.getvalue())
        with open(os.path.join(missing, "config.json"), "w") as f:
            f.write('{"data": {"source": "synthetic"}, "seed": 0}')
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            self.assertEqual(diagnose_d.main([missing]), 2)
        self.assertIn("has no 'discriminator' checkpoint", stderr.getvalue())
        with self.assertRaises(SystemExit), contextlib.redirect_stderr(io.StringIO()) as err:
            diagnose_d.main([missing, "--json", os.path.join(missing, "no", "d.json")])
        self.assertIn("--json folder does not exist", err.getvalue())
