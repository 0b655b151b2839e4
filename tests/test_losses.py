"""Losses and penalties against hand-computed values."""

import math

import numpy as np

from tests.test_case import TestCase
from vitgan_tf.training import losses


def softplus(x):
    return math.log1p(math.exp(x))


class LossesTest(TestCase):
    def test_generator_loss_by_hand(self):
        logits = np.array([[0.0], [2.0], [-1.0]], "float32")
        expected = (math.log(2.0) + softplus(-2.0) + softplus(1.0)) / 3
        self.assertAllClose(losses.nonsaturating_generator_loss(logits), expected, atol=1e-6)

    def test_discriminator_loss_by_hand(self):
        real = np.array([[1.0], [-0.5]], "float32")
        fake = np.array([[0.25], [-2.0]], "float32")
        # -log(sigmoid(real)) - log(1 - sigmoid(fake)), averaged per term.
        sigmoid = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
        expected = np.mean([-math.log(sigmoid(r)) for r in (1.0, -0.5)]) + np.mean(
            [-math.log(1 - sigmoid(f)) for f in (0.25, -2.0)]
        )
        self.assertAllClose(losses.nonsaturating_discriminator_loss(real, fake), expected, atol=1e-6)

    def test_discriminator_loss_is_log4_at_zero_logits(self):
        zeros = np.zeros((4, 1), "float32")
        self.assertAllClose(losses.nonsaturating_discriminator_loss(zeros, zeros), math.log(4.0))

    def test_bcr_penalty_by_hand(self):
        a = np.array([[1.0], [2.0]], "float32")
        b = np.array([[0.5], [4.0]], "float32")
        self.assertAllClose(losses.bcr_penalty(a, b, weight=10.0), 10.0 * (0.25 + 4.0) / 2)
        self.assertAllClose(losses.bcr_penalty(a, a, weight=10.0), 0.0)

    def test_r1_penalty_by_hand(self):
        grads = np.zeros((2, 2, 2, 1), "float32")
        grads[0, 0, 0, 0] = 3.0
        grads[0, 1, 1, 0] = 4.0  # ||g_0||^2 = 25
        grads[1, 0, 1, 0] = 1.0  # ||g_1||^2 = 1
        self.assertAllClose(losses.r1_penalty(grads, gamma=2.0), 0.5 * 2.0 * (25 + 1) / 2)
