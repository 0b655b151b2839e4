"""Values of parts of `ViTGAN.train_step`, each against an independent twin computation.

The twin uses the step's own random draws: the GAN's seed generator state is
saved, `sample_randomness` draws what the step will draw, and the state is
restored before the step (the approach of the bCR test in tests/test_train.py,
without a second model).

- R1: `r1_gamma` changes `d_loss` by exactly `r1_gamma / 2 * mean ||grad_x D(A(x))||^2`,
  the gradient taken with its own `tf.GradientTape` on the same augmented reals
  and the D weights before the step.
- Spectral norm: one train step advances every ISN/SN wrapper's `u` by exactly
  one power iteration (numpy, on the kernel D's forward used): not zero, not two.
"""

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from vitgan_tf.layers import ImprovedSpectralNormalization
from vitgan_tf.models import Discriminator, Generator
from vitgan_tf.training import ViTGAN, augment

BATCH = 8


def real_batch(seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, (BATCH, 16, 16, 3)).astype("float32")


def make_gan(discriminator_kwargs=None, **kwargs):
    keras.utils.set_random_seed(0)
    gan = ViTGAN(Generator.from_architecture("tiny"),
                 Discriminator.from_architecture("tiny", **(discriminator_kwargs or {})), seed=3, **kwargs)
    gan.compile(jit_compile=False)  # "auto" is XLA on a GPU, whose random draws differ
    return gan


def peek_randomness(gan):
    """The draws the next `train_step` of `gan` will make, without consuming them."""
    state = keras.ops.convert_to_numpy(gan.seed_generator.state).copy()
    draws = gan.sample_randomness(BATCH)
    gan.seed_generator.state.assign(state)
    return draws


def spectral_norm_wrappers(model):
    return [layer for layer in model._flatten_layers()
            if isinstance(layer, ImprovedSpectralNormalization)]


def np_l2_normalize(x, epsilon):
    return x / np.sqrt(max(np.sum(x**2), epsilon))


def np_power_iteration(u, kernel, epsilon, steps=1):
    """`steps` updates of spectral_norm.py's u: v = n(u W^T), u = n(v W), W = kernel [n_in, n_out]."""
    matrix = np.reshape(kernel, (-1, kernel.shape[-1])).astype("float64")
    u = np.asarray(u, "float64")
    for _ in range(steps):
        v = np_l2_normalize(u @ matrix.T, epsilon)
        u = np_l2_normalize(v @ matrix, epsilon)
    return u


class R1InTheStepTest(TestCase):
    def independent_r1(self, gan, real, draws, gamma):
        """gamma / 2 * mean_i ||d sum(D(A(x))) / d A(x)_i||^2 with the weights before the step."""
        view = tf.constant(augment.apply_params(real, draws["aug_real"]))
        with keras.StatelessScope(), tf.GradientTape() as tape:  # StatelessScope: u not advanced
            tape.watch(view)
            logits = gan.discriminator(view, training=True)
            total = tf.reduce_sum(tf.cast(logits, "float32"))
        grads = tape.gradient(total, view).numpy().astype("float64")
        self.assertEqual(grads.shape, (BATCH, 16, 16, 3))
        per_image = np.sum(grads**2, axis=(1, 2, 3))
        self.assertTrue(np.all(per_image > 0))
        return gamma / 2.0 * np.mean(per_image)

    def test_r1_changes_d_loss_by_the_recomputed_penalty(self):
        real = real_batch()
        gamma = 0.5
        gan0, gan = make_gan(r1_gamma=0.0), make_gan(r1_gamma=gamma)
        for a, b in ((gan.generator, gan0.generator), (gan.discriminator, gan0.discriminator)):
            a.set_weights(b.get_weights())  # the same weights, draws (seed 3) and bCR/augmentation
        draws = peek_randomness(gan)
        expected_r1 = self.independent_r1(gan, real, draws, gamma)
        logs0 = gan0.train_on_batch(real, return_dict=True)
        logs = gan.train_on_batch(real, return_dict=True)
        # Everything but R1 is the same in both steps.
        for key in ("d_real", "d_fake", "bcr"):
            self.assertAllClose(logs[key], logs0[key], rtol=1e-5, atol=1e-6, msg=key)
        self.assertGreater(expected_r1, 1e-2)  # a change that cannot hide in round-off
        self.assertAllClose(logs["d_loss"] - logs0["d_loss"], expected_r1, rtol=1e-4, atol=1e-5)


class PowerIterationPerStepTest(TestCase):
    def run_step_and_check(self, spectral_norm):
        gan = make_gan({"spectral_norm": spectral_norm})
        wrappers = spectral_norm_wrappers(gan.discriminator)
        self.assertGreaterEqual(len(wrappers), 5)  # patch embedding, attention, MLP
        self.assertEqual(spectral_norm_wrappers(gan.generator), [])
        # Start every u away from the top singular vector (build sets it there, where one,
        # two or zero iterations would all leave u where it is).
        rng = np.random.default_rng(1)
        before = []
        for wrapper in wrappers:
            u = rng.normal(size=tuple(wrapper.vector_u.shape))
            wrapper.vector_u.assign(u / np.linalg.norm(u))
            kernel = keras.ops.convert_to_numpy(wrapper.kernel).copy()  # as D's forward sees it
            before.append((keras.ops.convert_to_numpy(wrapper.vector_u).copy(), kernel))
        gan.train_on_batch(real_batch(), return_dict=True)
        checked = 0
        for wrapper, (u0, kernel) in zip(wrappers, before):
            after = keras.ops.convert_to_numpy(wrapper.vector_u)
            one = np_power_iteration(u0, kernel, wrapper.epsilon, steps=1)
            two = np_power_iteration(u0, kernel, wrapper.epsilon, steps=2)
            if kernel.shape[-1] > 1:  # (a 1-unit u is +-1 whatever the iterations: the logit)
                # The check can tell one update from zero or two.
                self.assertGreater(np.abs(one - u0).max(), 1e-2, wrapper.path)
                self.assertGreater(np.abs(one - two).max(), 1e-3, wrapper.path)
                checked += 1
            self.assertAllClose(after, one, atol=2e-5, rtol=0, msg=wrapper.path)
            # The kernel did change in the step (the D update came after the forward).
            self.assertGreater(np.abs(keras.ops.convert_to_numpy(wrapper.kernel) - kernel).max(), 0)
        self.assertGreaterEqual(checked, len(wrappers) - 1)

    def test_isn_u_advances_one_power_iteration_per_step(self):
        self.run_step_and_check("isn")

    def test_plain_sn_u_advances_one_power_iteration_per_step(self):
        self.run_step_and_check("sn")
