"""Core layers against independent numpy references of docs/maths.md's formulas."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.test_case import TestCase
from vitgan_tf import layers
from vitgan_tf.layers.initializers import WindowGlorotUniform


def np_layer_norm(x, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_l2_attention(x, w_qk, b_qk, w_v, b_v, w_o, b_o, heads):
    """docs/maths.md 1.3: logits_ij = -||q_i - k_j||^2 / sqrt(d_h), q = k = X W_q, by explicit differences."""
    batch, tokens, _ = x.shape
    d_h = w_qk.shape[1] // heads
    q = (x @ w_qk + b_qk).reshape(batch, tokens, heads, d_h)
    v = (x @ w_v + b_v).reshape(batch, tokens, heads, -1)
    out = np.zeros((batch, tokens, heads, v.shape[-1]))
    probs = np.zeros((batch, heads, tokens, tokens))
    for b in range(batch):
        for h in range(heads):
            diff = q[b, :, None, h, :] - q[b, None, :, h, :]  # [T, T, d]
            logits = -np.sum(diff**2, axis=-1) / math.sqrt(d_h)
            probs[b, h] = np_softmax(logits)
            out[b, :, h] = probs[b, h] @ v[b, :, h]
    return out.reshape(batch, tokens, -1) @ w_o + b_o, probs


def top_singular_value(matrix):
    return float(np.linalg.svd(np.reshape(matrix, (-1, np.shape(matrix)[-1])), compute_uv=False)[0])


def jacobian_norm(layer, x):
    """Largest singular value of d layer(x) / dx, for one sample, exactly."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    jac = tape.jacobian(y, x)
    size = int(np.prod(x.shape))
    return float(tf.linalg.svd(tf.reshape(jac, (size, size)), compute_uv=False)[0])


def penalty_gradient_and_finite_difference(fn, rng):
    """R1-like penalty ||d f / d x||^2 of f = sum(c * fn(x W)), differentiated w.r.t. W by nested
    tapes and by float64 central differences, along a random direction: (autodiff, numeric)."""
    x = tf.constant(rng.normal(size=(4, 6)))
    c = tf.constant(rng.normal(size=(4, 5)))
    w0 = rng.normal(size=(6, 5))
    direction = rng.normal(size=(6, 5))

    def penalty(w):
        with tf.GradientTape() as tape:
            tape.watch(x)
            f = tf.reduce_sum(c * fn(tf.matmul(x, w)))
        return tf.reduce_sum(tape.gradient(f, x) ** 2)

    w = tf.Variable(w0)
    with tf.GradientTape() as tape:
        value = penalty(w)
    autodiff = float(tf.reduce_sum(tape.gradient(value, w) * direction))
    eps = 1e-6
    numeric = (float(penalty(tf.constant(w0 + eps * direction)))
               - float(penalty(tf.constant(w0 - eps * direction)))) / (2 * eps)
    return autodiff, numeric


class L2MultiHeadAttentionTest(TestCase):
    def make_layer(self, **kwargs):
        layer = layers.L2MultiHeadAttention(num_heads=2, key_dim=4, **kwargs)
        layer.build((None, 5, 8))
        # Non-zero biases so they are checked too.
        for dense in (layer.query_key_dense, layer.value_dense, layer.output_dense):
            bias = getattr(dense, "layer", dense).bias  # unwrap ISN
            bias.assign(np.random.default_rng(1).normal(size=bias.shape))
        return layer

    def test_matches_numpy_formula(self):
        layer = self.make_layer()
        x = np.random.default_rng(0).normal(size=(3, 5, 8)).astype("float32")
        out, scores = layer(x, return_attention_scores=True)
        expected, expected_probs = np_l2_attention(
            x,
            layer.query_key_dense.kernel.numpy(), layer.query_key_dense.bias.numpy(),
            layer.value_dense.kernel.numpy(), layer.value_dense.bias.numpy(),
            layer.output_dense.kernel.numpy(), layer.output_dense.bias.numpy(),
            heads=2,
        )
        self.assertAllClose(out, expected, atol=1e-5, rtol=1e-5)
        self.assertAllClose(scores, expected_probs, atol=1e-5, rtol=1e-5)

    def test_gradients_equal_the_explicit_distance_formula(self):
        # The layer leaves out |q_i|^2 (softmax is invariant to it): its gradients w.r.t. the
        # inputs and W_qk must still be those of -||q_i - q_j||^2 / sqrt(d) by differences.
        layer = self.make_layer()
        x = tf.constant(np.random.default_rng(4).normal(size=(2, 5, 8)), "float32")
        c = tf.constant(np.random.default_rng(5).normal(size=(2, 5, 8)), "float32")
        qk, v, o = layer.query_key_dense, layer.value_dense, layer.output_dense

        def explicit(inputs):
            q = tf.reshape(inputs @ qk.kernel + qk.bias, (2, 5, 2, 4))
            vv = tf.reshape(inputs @ v.kernel + v.bias, (2, 5, 2, 4))
            diff = q[:, :, None] - q[:, None, :]  # [B, T, T, H, d]
            logits = -tf.reduce_sum(diff**2, -1) / 2.0  # sqrt(d) = 2
            probs = tf.nn.softmax(tf.transpose(logits, (0, 3, 1, 2)), -1)  # [B, H, T, T]
            ctx = tf.einsum("bhts,bshd->bthd", probs, vv)
            return tf.reshape(ctx, (2, 5, 8)) @ o.kernel + o.bias

        grads = []
        for fn in (layer, explicit):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = tf.reduce_sum(c * fn(x))
            grads.append(tape.gradient(y, [x, qk.kernel, qk.bias]))
        for ours, reference in zip(*grads):
            self.assertAllClose(ours, reference, atol=1e-5, rtol=1e-4)
        # W_qk's bias shifts every q alike, so distances (and its gradient) ignore it.
        self.assertGreater(float(tf.reduce_min([tf.reduce_max(tf.abs(g)) for g in grads[1][:2]])), 1e-2)

    def test_query_and_key_are_one_variable(self):
        layer = self.make_layer()
        kernels = [w for w in layer.trainable_weights if w.name == "kernel"]
        # W_qk, W_v, W_o: no separate key kernel exists.
        self.assertLen(kernels, 3)
        self.assertEqual(layer.query_key_dense.kernel.shape, (8, 8))
        # Perturbing the one shared kernel changes the logits as both q and k:
        # the scores move, and equal the formula with q = k = X (W_qk + noise).
        x = np.random.default_rng(0).normal(size=(1, 5, 8)).astype("float32")
        _, before = layer(x, return_attention_scores=True)
        kernel = layer.query_key_dense.kernel
        kernel.assign(kernel.numpy() + np.random.default_rng(2).normal(size=kernel.shape).astype("float32"))
        _, probs = layer(x, return_attention_scores=True)
        self.assertGreater(float(np.abs(probs - before).max()), 1e-2)
        _, expected_probs = np_l2_attention(
            x,
            kernel.numpy(), layer.query_key_dense.bias.numpy(),
            layer.value_dense.kernel.numpy(), layer.value_dense.bias.numpy(),
            layer.output_dense.kernel.numpy(), layer.output_dense.bias.numpy(),
            heads=2,
        )
        self.assertAllClose(probs, expected_probs, atol=1e-5, rtol=1e-5)
        # Self-distance is zero: each token attends to itself most (tied weights).
        probs = probs.numpy()[0]
        for head in probs:
            self.assertAllEqual(np.argmax(head, axis=-1), np.arange(5))

    def test_matches_numpy_with_isn(self):
        layer = self.make_layer(spectral_norm="isn")
        x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
        out = layer(x)
        eff = [d.normalized_kernel().numpy() for d in
               (layer.query_key_dense, layer.value_dense, layer.output_dense)]
        biases = [d.layer.bias.numpy() for d in
                  (layer.query_key_dense, layer.value_dense, layer.output_dense)]
        expected, _ = np_l2_attention(x, eff[0], biases[0], eff[1], biases[1], eff[2], biases[2], 2)
        self.assertAllClose(out, expected, atol=1e-5, rtol=1e-5)

    def test_jacobian_bounded_unlike_dot_product(self):
        """The paper's central claim: L2 attention + ISN is Lipschitz, dot-product is not.

        Input: random tokens, one of them zero (its dot-product query is zero,
        so its softmax row stays uniform while the other keys grow), scaled
        by 1, 10, 100.
        """
        x = np.random.default_rng(0).normal(size=(1, 6, 16)).astype("float32")
        x[:, 0] = 0.0
        scales = (1.0, 10.0, 100.0)
        l2 = layers.L2MultiHeadAttention(2, 8, spectral_norm="isn")
        l2.build((1, 6, 16))
        dot = layers.DotProductMultiHeadAttention(2, 8, spectral_norm="isn")
        dot.build((1, 6, 16))
        l2_norms = [jacobian_norm(l2, x * s) for s in scales]
        dot_norms = [jacobian_norm(dot, x * s) for s in scales]
        # Bounded: no growth beyond 1.5x the unit-scale value, whatever the scale.
        self.assertLess(max(l2_norms), 1.5 * l2_norms[0], msg=f"L2 norms {l2_norms}")
        # Dot-product grows (about quadratically) with the input scale.
        self.assertGreater(dot_norms[1], 5 * dot_norms[0], msg=f"dot norms {dot_norms}")
        self.assertGreater(dot_norms[2], 100 * dot_norms[0], msg=f"dot norms {dot_norms}")
        self.assertGreater(dot_norms[2], 100 * max(l2_norms))

    def test_config_and_saving(self):
        layer = layers.L2MultiHeadAttention(2, 4, spectral_norm="isn", name="attn")
        self.run_config_roundtrip(layer)
        x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
        self.run_saving_roundtrip(layer, x)

    def test_mixed_precision(self):
        x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
        _, out = self.run_mixed_precision_call(
            lambda: layers.L2MultiHeadAttention(2, 4, spectral_norm="isn"), x
        )
        self.assertEqual(out.dtype, tf.float16)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "num_heads=0"):
            layers.L2MultiHeadAttention(num_heads=0, key_dim=4)
        with self.assertRaisesRegex(ValueError, "spectral_norm='bad'"):
            layers.L2MultiHeadAttention(2, 4, spectral_norm="bad")


class DotProductAttentionTest(TestCase):
    def test_matches_numpy(self):
        layer = layers.DotProductMultiHeadAttention(2, 4)
        x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
        out = layer(x).numpy()
        w, b = layer.qkv_dense.kernel.numpy(), layer.qkv_dense.bias.numpy()
        qkv = x @ w + b
        q, k, v = (qkv[..., i * 8:(i + 1) * 8].reshape(2, 5, 2, 4) for i in range(3))
        logits = np.einsum("bihd,bjhd->bhij", q, k) / 2.0
        ctx = np.einsum("bhij,bjhd->bihd", np_softmax(logits), v).reshape(2, 5, 8)
        expected = ctx @ layer.output_dense.kernel.numpy() + layer.output_dense.bias.numpy()
        self.assertAllClose(out, expected, atol=1e-5, rtol=1e-5)

    def test_config_and_saving(self):
        layer = layers.DotProductMultiHeadAttention(2, 4)
        self.run_config_roundtrip(layer)
        self.run_saving_roundtrip(layer, np.ones((1, 3, 8), "float32"))


class ImprovedSpectralNormalizationTest(TestCase):
    def make_layer(self, **kwargs):
        layer = layers.ImprovedSpectralNormalization(keras.layers.Dense(12), **kwargs)
        layer.build((None, 20))
        return layer

    def test_sigma_init_is_exact_top_singular_value(self):
        layer = self.make_layer()
        self.assertAllClose(layer.sigma_init.numpy(), top_singular_value(layer.kernel.numpy()), rtol=1e-5)

    def test_effective_sigma_after_power_iterations(self):
        layer = self.make_layer()
        sigma_init = float(layer.sigma_init.numpy())
        x = np.ones((2, 20), "float32")
        # A new raw kernel (as after many optimizer steps): u must re-converge.
        layer.kernel.assign(np.random.default_rng(3).normal(size=(20, 12)) * 3.0)
        for _ in range(50):
            layer(x, training=True)
        effective = layer.normalized_kernel().numpy()
        self.assertAllClose(top_singular_value(effective), sigma_init, rtol=1e-3)
        # sigma_init is a constant: it did not follow the kernel.
        self.assertAllClose(layer.sigma_init.numpy(), sigma_init)

    def test_plain_spectral_norm_targets_one(self):
        layer = self.make_layer(use_init_scale=False)
        for _ in range(30):
            layer(np.ones((1, 20), "float32"), training=True)
        self.assertAllClose(top_singular_value(layer.normalized_kernel().numpy()), 1.0, rtol=1e-3)

    def test_scaling_raw_kernel_leaves_output_unchanged(self):
        layer = self.make_layer()
        x = np.random.default_rng(0).normal(size=(4, 20)).astype("float32")
        before = layer(x).numpy()
        layer.kernel.assign(layer.kernel.numpy() * 5.0)
        after = layer(x).numpy()
        self.assertAllClose(before, after, atol=1e-5, rtol=1e-5)
        # ... and the output is the wrapped layer's with the effective kernel.
        expected = x @ layer.normalized_kernel().numpy() + layer.layer.bias.numpy()
        self.assertAllClose(after, expected, atol=1e-5, rtol=1e-5)

    def test_gradients_reach_raw_kernel(self):
        layer = self.make_layer()
        x = np.random.default_rng(0).normal(size=(4, 20)).astype("float32")
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x, training=True) ** 2)
        grad = tape.gradient(loss, layer.layer.kernel)
        self.assertIsNotNone(grad)
        self.assertGreater(float(tf.reduce_max(tf.abs(grad))), 0.0)
        # Kernel untouched by the forward pass (no assign).
        kernel_before = layer.kernel.numpy().copy()
        layer(x, training=True)
        self.assertAllEqual(layer.kernel.numpy(), kernel_before)

    def test_stateless_call_uses_the_given_values(self):
        # The JAX train step runs D through `stateless_call`: the wrapped layer must see the
        # given kernel AND bias (a StatelessScope does not inherit an enclosing one's mapping),
        # and the new u must come back as a value, the variable untouched.
        layer = self.make_layer()
        rng = np.random.default_rng(0)
        x = rng.normal(size=(4, 20)).astype("float32")
        kernel = rng.normal(size=(20, 12)).astype("float32")
        bias = rng.normal(size=(12,)).astype("float32")
        values = {id(layer.kernel): kernel, id(layer.layer.bias): bias}
        trainable = [values[id(v)] for v in layer.trainable_variables]
        non_trainable = [v.numpy() for v in layer.non_trainable_variables]
        u_before = layer.vector_u.numpy().copy()
        outputs, new_non_trainable = layer.stateless_call(trainable, non_trainable, x, training=True)
        new = {v.path: value for v, value in zip(layer.non_trainable_variables, new_non_trainable)}
        u = np.asarray(new[layer.vector_u.path])
        v = (u_before @ kernel.T) / np.linalg.norm(u_before @ kernel.T)  # one power iteration
        sigma = float(np.sum((v @ kernel) * u))
        expected = x @ (kernel * layer.sigma_init.numpy() / sigma) + bias
        self.assertAllClose(outputs, expected, atol=1e-4, rtol=1e-4)
        self.assertAllClose(u, (v @ kernel) / np.linalg.norm(v @ kernel), atol=1e-6)
        self.assertAllEqual(layer.vector_u.numpy(), u_before)

    def test_u_updates_only_in_training(self):
        layer = self.make_layer()
        layer.kernel.assign(np.random.default_rng(3).normal(size=(20, 12)))
        u = layer.vector_u.numpy().copy()
        layer(np.ones((1, 20), "float32"), training=False)
        self.assertAllEqual(layer.vector_u.numpy(), u)
        layer(np.ones((1, 20), "float32"), training=True)
        self.assertNotAllClose(layer.vector_u.numpy(), u)

    def test_state_survives_saving(self):
        layer = layers.ImprovedSpectralNormalization(keras.layers.Dense(6), name="isn")
        x = np.random.default_rng(0).normal(size=(3, 10)).astype("float32")
        inputs = keras.Input((10,))
        model = keras.Model(inputs, layer(inputs))
        layer.kernel.assign(layer.kernel.numpy() * 2.0 + 0.1)
        for _ in range(3):
            layer(x, training=True)
        restored = self.run_saving_roundtrip(layer, x)
        loaded = restored.get_layer("isn")
        self.assertAllClose(loaded.sigma_init.numpy(), layer.sigma_init.numpy())
        self.assertAllClose(loaded.vector_u.numpy(), layer.vector_u.numpy())
        del model

    def test_wraps_conv(self):
        layer = layers.ImprovedSpectralNormalization(keras.layers.Conv2D(4, 3))
        layer.build((None, 8, 8, 2))
        self.assertAllClose(layer.sigma_init.numpy(), top_singular_value(layer.kernel.numpy()), rtol=1e-5)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "kernel"):
            layers.ImprovedSpectralNormalization(keras.layers.LayerNormalization()).build((None, 4))
        with self.assertRaisesRegex(ValueError, "power_iterations=0"):
            layers.ImprovedSpectralNormalization(keras.layers.Dense(2), power_iterations=0)

    def test_config(self):
        self.run_config_roundtrip(self.make_layer(power_iterations=2, use_init_scale=False))
        self.run_config_roundtrip(self.make_layer(equalized_lr=True, gain=0.5))

    def test_equalized_lr_draws_unit_kernel_and_scales_sigma_init(self):
        for layer, fan_in in ((self.make_layer(equalized_lr=True, gain=0.5), 20),
                              (layers.ImprovedSpectralNormalization(
                                  keras.layers.Conv2D(16, 4), equalized_lr=True), 4 * 4 * 3)):
            if not layer.built:
                layer.build((None, 9, 9, 3))
            raw = layer.kernel.numpy()
            self.assertAllClose(raw.std(), 1.0, atol=0.15)  # N(0, 1), not the layer's glorot
            expected = layer.gain / math.sqrt(fan_in) * top_singular_value(raw)
            self.assertAllClose(layer.sigma_init.numpy(), expected, rtol=1e-5)
            # The effective kernel has that norm (the power iteration starts converged).
            self.assertAllClose(top_singular_value(layer.normalized_kernel().numpy()), expected,
                                rtol=1e-4)
        # Plain SN with an equalized kernel still targets 1.
        plain = self.make_layer(equalized_lr=True, use_init_scale=False)
        self.assertAllClose(top_singular_value(plain.normalized_kernel().numpy()), 1.0, rtol=1e-4)
        with self.assertRaisesRegex(ValueError, "gain=0"):
            layers.ImprovedSpectralNormalization(keras.layers.Dense(2), gain=0)
        with self.assertRaisesRegex(ValueError, "spectral_norm"):
            layers.DiscriminatorBlock(2, 12, spectral_norm=None, equalized_lr=True)


class ExactLayerNormalizationTest(TestCase):
    def test_forward_equals_numpy_and_keras_layer(self):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(3, 5, 8)).astype("float32")
        gamma, beta = rng.normal(size=8).astype("float32"), rng.normal(size=8).astype("float32")
        ours = layers.ExactLayerNormalization(epsilon=1e-6)
        keras_norm = keras.layers.LayerNormalization(epsilon=1e-6)
        for norm in (ours, keras_norm):
            norm.build(x.shape)
            norm.set_weights([gamma, beta])
        expected = np_layer_norm(x.astype("float64"), 1e-6) * gamma + beta
        self.assertAllClose(ours(x), expected, atol=1e-5, rtol=1e-5)
        self.assertAllClose(ours(x), keras_norm(x), atol=1e-5, rtol=1e-5)

    def test_gradient_penalty_gradient_equals_finite_differences(self):
        # R1-like penalty ||d f / d x||^2 of f = sum(c * tanh(LN(x W))), differentiated w.r.t. W
        # by nested tapes, against float64 central differences along a random direction.
        # Keras' LayerNormalization fails this on TensorFlow (tf.nn.moments stops the gradient
        # through the mean inside the variance), by about 1%.
        rng = np.random.default_rng(0)
        norm = layers.ExactLayerNormalization(epsilon=1e-3, dtype="float64")
        norm.build((4, 5))
        norm.set_weights([rng.normal(size=5) + 1.0, rng.normal(size=5)])
        autodiff, numeric = penalty_gradient_and_finite_difference(lambda y: tf.tanh(norm(y)), rng)
        self.assertAllClose(autodiff, numeric, rtol=1e-6)

    def test_input_gradient_equals_keras_layer_norm(self):
        # First derivatives of Keras' layer are exact; ours are written out by hand.
        rng = np.random.default_rng(3)
        x = tf.constant(rng.normal(size=(3, 5, 8)).astype("float32") * 4 + 2)
        c = tf.constant(rng.normal(size=(3, 5, 8)).astype("float32"))
        weights = [rng.normal(size=8).astype("float32"), rng.normal(size=8).astype("float32")]
        grads = []
        for norm in (layers.ExactLayerNormalization(epsilon=1e-3),
                     keras.layers.LayerNormalization(epsilon=1e-3)):
            norm.build(x.shape)
            norm.set_weights(weights)
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = tf.reduce_sum(c * norm(x))
            grads.append(tape.gradient(y, x))
        self.assertAllClose(grads[0], grads[1], atol=1e-5)
        self.assertGreater(float(tf.reduce_max(tf.abs(grads[0]))), 0.01)

    def test_rms_scaling_refused(self):
        with self.assertRaisesRegex(ValueError, "rms_scaling"):
            layers.ExactLayerNormalization(rms_scaling=True)


class GeluTest(TestCase):
    def test_values_and_derivative_equal_numpy(self):
        from math import erf, exp, pi, sqrt

        x = np.linspace(-6.0, 6.0, 49)
        cdf = np.array([0.5 * (1.0 + erf(v / sqrt(2.0))) for v in x])
        pdf = np.array([exp(-0.5 * v * v) / sqrt(2.0 * pi) for v in x])
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = layers.gelu(xt)
        self.assertAllClose(y, x * cdf, atol=1e-12)
        self.assertAllClose(tape.gradient(y, xt), cdf + x * pdf, atol=1e-12)
        x32 = x.astype("float32")
        self.assertAllClose(layers.gelu(x32), keras.activations.gelu(x32, approximate=False), atol=1e-6)

    def test_gradient_penalty_gradient_equals_finite_differences(self):
        # As for ExactLayerNormalization: R1 differentiates D's input gradient w.r.t. D's
        # weights, which differentiates the GELU's hand-written derivative.
        autodiff, numeric = penalty_gradient_and_finite_difference(layers.gelu, np.random.default_rng(1))
        self.assertAllClose(autodiff, numeric, rtol=1e-6)

    def test_dense_with_gelu_round_trips(self):
        dense = keras.layers.Dense(3, activation=layers.gelu)
        self.assertEqual(keras.saving.serialize_keras_object(layers.gelu)["config"], "vitgan_tf>gelu")
        restored = self.run_saving_roundtrip(dense, np.ones((2, 4), "float32"))
        self.assertIs(restored.layers[-1].activation, layers.gelu)


class SelfModulatedLayerNormTest(TestCase):
    def test_matches_numpy(self):
        layer = layers.SelfModulatedLayerNorm(epsilon=1e-3)
        rng = np.random.default_rng(0)
        h = rng.normal(size=(2, 5, 8)).astype("float32") * 3 + 1
        w = rng.normal(size=(2, 6)).astype("float32")
        out = layer(h, w).numpy()
        gamma = w @ layer.gamma_dense.kernel.numpy() + layer.gamma_dense.bias.numpy()
        beta = w @ layer.beta_dense.kernel.numpy() + layer.beta_dense.bias.numpy()
        expected = np_layer_norm(h, 1e-3) * (1 + gamma[:, None]) + beta[:, None]
        self.assertAllClose(out, expected, atol=1e-5, rtol=1e-5)

    def test_zero_modulation_is_plain_layer_norm(self):
        layer = layers.SelfModulatedLayerNorm(kernel_initializer="zeros")
        h = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
        out = layer(h, np.ones((2, 3), "float32")).numpy()
        self.assertAllClose(out, np_layer_norm(h, 1e-3), atol=1e-5)

    def test_config_and_saving(self):
        layer = layers.SelfModulatedLayerNorm()
        self.run_config_roundtrip(layer)
        rng = np.random.default_rng(0)
        self.run_saving_roundtrip(
            layer, [rng.normal(size=(2, 5, 8)).astype("float32"), rng.normal(size=(2, 6)).astype("float32")]
        )


def np_decoder(layer, tokens):
    """Weight-side StyleGAN2 modulation, written out per token (the slow way)."""
    p, g = layer.patch_size, layer.grid_size
    coords = layers.coordinate_grid(p)
    fourier = np.sin(coords @ layer.fourier.kernel.numpy() + layer.fourier.bias.numpy())
    w1, b1 = layer.kernel1.numpy(), layer.bias1.numpy()
    w2, b2 = layer.kernel2.numpy(), layer.bias2.numpy()
    batch, count, _ = tokens.shape
    image = np.zeros((batch, g * p, g * p, layer.channels))
    for b in range(batch):
        for t in range(count):
            s1 = tokens[b, t] @ layer.style1.kernel.numpy() + layer.style1.bias.numpy()
            s2 = tokens[b, t] @ layer.style2.kernel.numpy() + layer.style2.bias.numpy()
            mod1 = w1 * s1[:, None]  # modulate input channels
            if layer.demodulate:
                mod1 = mod1 / np.sqrt((mod1**2).sum(0, keepdims=True) + 1e-8)
            h = fourier @ mod1 + b1
            h = np.where(h > 0, h, 0.2 * h)
            mod2 = w2 * s2[:, None] / math.sqrt(w2.shape[0])
            pixels = (h @ mod2 + b2).reshape(p, p, -1)
            r, c = divmod(t, g)
            image[b, r * p:(r + 1) * p, c * p:(c + 1) * p] = pixels
    return image


class ImplicitPatchDecoderTest(TestCase):
    def test_matches_weight_modulation_reference(self):
        layer = layers.ImplicitPatchDecoder(patch_size=3, channels=2, hidden_dim=6, fourier_dim=5)
        tokens = np.random.default_rng(0).normal(size=(2, 4, 7)).astype("float32")
        out = layer(tokens).numpy()
        self.assertEqual(out.shape, (2, 6, 6, 2))
        self.assertAllClose(out, np_decoder(layer, tokens), atol=1e-4, rtol=1e-4)

    def test_matches_reference_with_biases_with_and_without_demodulation(self):
        # Non-zero biases exercise the folded bias1 / demod of the leaky_relu path.
        rng = np.random.default_rng(1)
        tokens = rng.normal(size=(2, 4, 7)).astype("float32")
        for demodulate in (True, False):
            layer = layers.ImplicitPatchDecoder(3, 2, hidden_dim=6, fourier_dim=5, demodulate=demodulate)
            layer.build(tokens.shape)
            layer.bias1.assign(rng.normal(size=6).astype("float32"))
            layer.bias2.assign(rng.normal(size=2).astype("float32"))
            self.assertAllClose(layer(tokens).numpy(), np_decoder(layer, tokens), atol=1e-4, rtol=1e-4)

    def test_token_i_lands_in_patch_i(self):
        """A decoder whose token i emits the constant i gives the tiled image."""
        p, g, hidden = 4, 3, 8
        layer = layers.ImplicitPatchDecoder(patch_size=p, channels=1, hidden_dim=hidden, fourier_dim=4)
        layer.build((None, g * g, 5))
        # Layer 1 emits the constant 1 (zero kernel, bias 1); style2 copies token[0];
        # layer 2 sums it back: every pixel of patch t equals token t's first feature.
        layer.kernel1.assign(np.zeros_like(layer.kernel1.numpy()))
        layer.bias1.assign(np.ones(hidden))
        style2 = np.zeros((5, hidden))
        style2[0] = 1.0
        layer.style2.kernel.assign(style2)
        layer.style2.bias.assign(np.zeros(hidden))
        layer.kernel2.assign(np.full((hidden, 1), math.sqrt(hidden) / hidden))
        tokens = np.zeros((1, g * g, 5), "float32")
        tokens[0, :, 0] = np.arange(g * g)
        image = layer(tokens).numpy()[0, :, :, 0]
        expected = np.kron(np.arange(g * g).reshape(g, g), np.ones((p, p)))
        self.assertAllClose(image, expected, atol=1e-5)

    def test_tokens_to_image(self):
        patches = np.arange(2 * 4 * 9 * 1, dtype="float32").reshape(2, 4, 9, 1)
        image = layers.tokens_to_image(patches, 2, 3).numpy()
        for b in range(2):
            for t in range(4):
                r, c = divmod(t, 2)
                self.assertAllEqual(image[b, r * 3:(r + 1) * 3, c * 3:(c + 1) * 3, 0],
                                    patches[b, t, :, 0].reshape(3, 3))

    def test_sin_activation(self):
        layer = layers.ImplicitPatchDecoder(2, 1, hidden_dim=4, fourier_dim=4, activation="sin", sin_omega=2.0)
        tokens = np.random.default_rng(0).normal(size=(1, 4, 3)).astype("float32")
        out = layer(tokens).numpy()
        # Same as the reference with the activation swapped.
        fourier = np.sin(layers.coordinate_grid(2) @ layer.fourier.kernel.numpy() + layer.fourier.bias.numpy())
        s1 = tokens[0] @ layer.style1.kernel.numpy() + layer.style1.bias.numpy()
        s2 = tokens[0] @ layer.style2.kernel.numpy() + layer.style2.bias.numpy()
        w1, w2 = layer.kernel1.numpy(), layer.kernel2.numpy()
        x = np.einsum("pf,tf,fo->tpo", fourier, s1, w1) / np.sqrt(s1**2 @ w1**2 + 1e-8)[:, None]
        x = np.sin(2.0 * (x + layer.bias1.numpy()))
        x = np.einsum("tpo,to,oc->tpc", x, s2, w2) / 2.0 + layer.bias2.numpy()
        self.assertAllClose(out[0, :2, :2, 0], x[0, :, 0].reshape(2, 2), atol=1e-5)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "activation='relu'"):
            layers.ImplicitPatchDecoder(4, 3, activation="relu")
        with self.assertRaisesRegex(ValueError, "tokens=5"):
            layers.ImplicitPatchDecoder(4, 3).build((None, 5, 8))

    def test_config_and_saving(self):
        layer = layers.ImplicitPatchDecoder(2, 3, hidden_dim=4, fourier_dim=4)
        self.run_config_roundtrip(layer)
        self.run_saving_roundtrip(layer, np.random.default_rng(0).normal(size=(2, 4, 6)).astype("float32"))


class FourierAndPositionTest(TestCase):
    def test_fourier_features(self):
        layer = layers.FourierFeatures(5)
        coords = layers.coordinate_grid(3)
        self.assertAllClose(coords[0], [-1, -1])
        self.assertAllClose(coords[5], [1, 0])  # row 1, column 2
        out = layer(coords).numpy()
        self.assertAllClose(out, np.sin(coords @ layer.kernel.numpy() + layer.bias.numpy()), atol=1e-6)
        self.run_config_roundtrip(layer)

    def test_position_embedding_same_for_every_sample(self):
        layer = layers.PatchPositionEmbedding(grid_size=4, units=8)
        out = layer(np.zeros((3, 2), "float32")).numpy()
        self.assertEqual(out.shape, (3, 16, 8))
        expected = np.sin(layers.coordinate_grid(4) @ layer.fourier.kernel.numpy() + layer.fourier.bias.numpy())
        for sample in out:
            self.assertAllClose(sample, expected, atol=1e-6)
        self.run_config_roundtrip(layer)
        self.run_saving_roundtrip(layer, np.zeros((2, 2), "float32"))


class OverlappingPatchEmbeddingTest(TestCase):
    def test_matches_explicit_windows(self):
        p, c, d = 4, 3, 5
        layer = layers.OverlappingPatchEmbedding(p, d)
        images = np.random.default_rng(0).normal(size=(2, 8, 12, c)).astype("float32")
        out = layer(images).numpy()
        self.assertEqual(out.shape, (2, 2 * 3, d))
        kernel = layer.projection.kernel.numpy().reshape(-1, d)  # (2P*2P*C, D)
        bias = layer.projection.bias.numpy()
        padded = np.pad(images, ((0, 0), (p // 2, p // 2), (p // 2, p // 2), (0, 0)))
        for b in range(2):
            for t in range(6):
                r, col = divmod(t, 3)
                # The P x P patch at (r, col) extended by P/2 on every side.
                window = padded[b, r * p:r * p + 2 * p, col * p:col * p + 2 * p]
                self.assertAllClose(out[b, t], window.reshape(-1) @ kernel + bias, atol=1e-4)

    def test_with_isn_and_saving(self):
        layer = layers.OverlappingPatchEmbedding(2, 4, spectral_norm="isn")
        self.run_config_roundtrip(layer)
        self.run_saving_roundtrip(layer, np.random.default_rng(0).normal(size=(1, 4, 4, 1)).astype("float32"))

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "patch_size=3"):
            layers.OverlappingPatchEmbedding(3, 4)
        with self.assertRaisesRegex(ValueError, "10x10 is not divisible by patch_size=4"):
            layers.OverlappingPatchEmbedding(4, 4).build((None, 10, 10, 3))

    def test_window_glorot_initialises_the_linear_map_of_flattened_windows(self):
        from vitgan_tf.layers.initializers import WindowGlorotUniform

        kernel = WindowGlorotUniform(seed=1)((8, 8, 1, 128)).numpy()
        limit = math.sqrt(6.0 / (64 + 128))  # Dense glorot on the flattened 8x8x1 window
        self.assertLessEqual(np.abs(kernel).max(), limit)
        self.assertGreater(np.abs(kernel).max(), 0.95 * limit)
        self.assertAllClose(kernel.std(), limit / math.sqrt(3), rtol=0.05)
        conv = layers.OverlappingPatchEmbedding(4, 128, spectral_norm="isn")
        conv.build((None, 16, 16, 1))
        windowed = layers.OverlappingPatchEmbedding(
            4, 128, spectral_norm="isn", kernel_initializer="vitgan_tf>WindowGlorotUniform")
        windowed.build((None, 16, 16, 1))
        # Conv2D's glorot counts the window in fan-out too: sigma(W_init) ~0.3, not ~2.
        self.assertLess(float(conv.projection.sigma_init.numpy()), 0.4)
        self.assertBetween(float(windowed.projection.sigma_init.numpy()), 1.5, 2.3)
        self.run_config_roundtrip(windowed)

    def test_class_token_position_embedding(self):
        layer = layers.ClassTokenPositionEmbedding()
        x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
        layer.build(x.shape)
        layer.class_token.assign(np.full((1, 1, 4), 7.0))
        out = layer(x).numpy()
        pos = layer.position_embedding.numpy()[0]
        self.assertAllClose(out[:, 0], np.broadcast_to(7.0 + pos[0], (2, 4)))
        self.assertAllClose(out[:, 1:], x + pos[1:])
        self.run_saving_roundtrip(layers.ClassTokenPositionEmbedding(), x)


class MappingNetworkTest(TestCase):
    def test_matches_numpy(self):
        layer = layers.MappingNetwork(units=6, num_layers=2, lr_multiplier=0.1)
        z = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
        out = layer(z).numpy()
        x = z / np.sqrt((z**2).mean(-1, keepdims=True) + 1e-8)
        for dense in layer.dense_layers:
            k = dense.kernel.numpy() * 0.1 / math.sqrt(x.shape[-1])
            x = x @ k + dense.bias.numpy() * 0.1
            x = np.where(x > 0, x, 0.2 * x)
        self.assertAllClose(out, x, atol=1e-5)
        # Equalized lr: stored weights are N(0, 1/lr_mul), effective ones unit scale.
        self.assertGreater(np.std(layer.dense_layers[0].kernel.numpy()), 5.0)

    def test_config_and_saving(self):
        layer = layers.MappingNetwork(units=6, num_layers=2)
        self.run_config_roundtrip(layer)
        self.run_saving_roundtrip(layer, np.ones((2, 3), "float32"))
        with self.assertRaisesRegex(ValueError, "num_layers=0"):
            layers.MappingNetwork(units=6, num_layers=0)


class StyleTruncationTest(TestCase):
    def test_running_mean_and_truncation_match_numpy(self):
        layer = layers.StyleTruncation(beta=0.9)
        rng = np.random.default_rng(0)
        batches = [rng.normal(size=(3, 4)).astype("float32") for _ in range(5)]
        w_avg = np.zeros(4)
        for w in batches:
            self.assertAllClose(layer(w, training=True), w)  # w itself
            w_avg = w.mean(0) + 0.9 * (w_avg - w.mean(0))
        self.assertAllClose(layer.w_avg.numpy(), w_avg, atol=1e-6)
        layer(batches[0])  # inference: no update
        self.assertAllClose(layer.w_avg.numpy(), w_avg, atol=1e-6)
        w = batches[0]
        self.assertAllClose(layer.truncate(w, 0.7), w_avg + 0.7 * (w - w_avg), atol=1e-6)
        np.testing.assert_array_equal(layer.truncate(w, 1.0), w)  # exactly
        self.assertAllClose(layer.truncate(w, 0.0), np.broadcast_to(w_avg, w.shape), atol=1e-6)

    def test_config_and_saving(self):
        layer = layers.StyleTruncation(beta=0.5)
        self.run_config_roundtrip(layer)
        self.run_saving_roundtrip(layer, np.ones((2, 3), "float32"))
        for bad in (1.0, -0.1, "0.5", True):
            with self.assertRaisesRegex(ValueError, "beta"):
                layers.StyleTruncation(beta=bad)


class BlocksTest(TestCase):
    def test_generator_block_matches_composition(self):
        block = layers.GeneratorBlock(num_heads=2, mlp_dim=12)
        rng = np.random.default_rng(0)
        h = rng.normal(size=(2, 4, 8)).astype("float32")
        w = rng.normal(size=(2, 5)).astype("float32")
        out = block(h, w).numpy()
        x = h + block.attention(block.norm1(h, w)).numpy()
        gelu = keras.activations.gelu
        mlp = block.mlp_out(gelu(block.norm2(x, w) @ block.mlp_in.kernel + block.mlp_in.bias))
        self.assertAllClose(out, x + mlp.numpy(), atol=1e-5)
        self.run_config_roundtrip(block)
        self.run_saving_roundtrip(block, [h, w])

    def test_discriminator_block_uses_isn_everywhere(self):
        block = layers.DiscriminatorBlock(num_heads=2, mlp_dim=12)
        block.build((None, 4, 8))
        wrapped = [block.attention.query_key_dense, block.attention.value_dense,
                   block.attention.output_dense, block.mlp_in, block.mlp_out]
        for layer in wrapped:
            self.assertIsInstance(layer, layers.ImprovedSpectralNormalization)
        self.assertIsInstance(block.attention, layers.L2MultiHeadAttention)
        h = np.random.default_rng(0).normal(size=(2, 4, 8)).astype("float32")
        out = block(h).numpy()
        x = h + block.attention(block.norm1(h)).numpy()
        expected = x + block.mlp_out(block.mlp_in(block.norm2(x))).numpy()
        self.assertAllClose(out, expected, atol=1e-5)
        self.run_config_roundtrip(block)
        self.run_saving_roundtrip(layers.DiscriminatorBlock(2, 12), h)

    def test_discriminator_block_variants(self):
        block = layers.DiscriminatorBlock(2, 12, attention="dot", spectral_norm=None)
        block.build((None, 4, 8))
        self.assertIsInstance(block.attention, layers.DotProductMultiHeadAttention)
        self.assertIsInstance(block.mlp_in, keras.layers.Dense)
        with self.assertRaisesRegex(ValueError, "attention='cos'"):
            layers.DiscriminatorBlock(2, 12, attention="cos")
        with self.assertRaisesRegex(ValueError, "hidden_dim=10, num_heads=4"):
            layers.DiscriminatorBlock(4, 12).build((None, 4, 10))


EXPORTED_CLASSES = sorted(
    [obj for obj in vars(layers).values() if isinstance(obj, type)] + [WindowGlorotUniform],
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("cls", EXPORTED_CLASSES, ids=lambda c: c.__name__)
def test_registered_under_package(cls):
    # Every class exported by vitgan_tf.layers (20 layers) and the patch initializer;
    # tests/test_layer_contract.py runs the full layer contract on each.
    name = keras.saving.get_registered_name(cls)
    assert name == f"vitgan_tf>{cls.__name__}", name
    assert keras.saving.get_registered_object(name) is cls
    assert keras.saving.deserialize_keras_object(
        {"class_name": cls.__name__, "registered_name": name, "module": None,
         "config": cls(**_MINIMAL_ARGS.get(cls, {})).get_config()}
    ).__class__ is cls


def test_every_exported_class_is_checked():
    assert len(EXPORTED_CLASSES) == 21, [c.__name__ for c in EXPORTED_CLASSES]


_MINIMAL_ARGS = {
    layers.DotProductMultiHeadAttention: dict(num_heads=1, key_dim=2),
    layers.L2MultiHeadAttention: dict(num_heads=1, key_dim=2),
    layers.DiscriminatorBlock: dict(num_heads=1, mlp_dim=2),
    layers.GeneratorBlock: dict(num_heads=1, mlp_dim=2),
    layers.FourierFeatures: dict(units=2),
    layers.ImplicitPatchDecoder: dict(patch_size=2, channels=1),
    layers.PatchPositionEmbedding: dict(grid_size=2, units=2),
    layers.EqualizedDense: dict(units=2),
    layers.MappingNetwork: dict(units=2),
    layers.OverlappingPatchEmbedding: dict(patch_size=2, hidden_dim=2),
    layers.ImprovedSpectralNormalization: dict(layer=keras.layers.Dense(2)),
    layers.Blur: dict(pad=(1, 1)),
    layers.EqualizedConv2D: dict(filters=2, kernel_size=3),
    layers.StyleGAN2ResidualBlock: dict(filters=2),
}


class L2AttentionTemperatureTest(TestCase):
    """At init, L2 attention must look at other tokens, not only at itself."""

    def self_weight_and_mean_logit(self, **kwargs):
        layer = layers.L2MultiHeadAttention(num_heads=4, key_dim=32, **kwargs)
        x = np.random.default_rng(0).normal(size=(4, 65, 128)).astype("float32")  # unit variance, as after LN
        _, probs = layer(x, return_attention_scores=True)
        probs = probs.numpy()
        self_weight = np.diagonal(probs, axis1=2, axis2=3).mean()
        # Logits by the formula on the layer's own W_qk (bias zero at init).
        q = (x @ layer.query_key_dense.kernel.numpy()).reshape(4, 65, 4, 32)
        d2 = ((q[:, :, None] - q[:, None]) ** 2).sum(-1) / math.sqrt(32)  # [B, T, T, H]
        off_diagonal = ~np.eye(65, dtype=bool)
        return self_weight, -d2[:, off_diagonal].mean()

    def test_default_init_gives_unit_logits(self):
        self_weight, mean_logit = self.self_weight_and_mean_logit()
        self.assertAllClose(mean_logit, -1.0, rtol=0.15)
        self.assertLess(self_weight, 0.1)

    def test_glorot_init_attends_to_itself(self):
        """The failure the default avoids: with glorot W_qk each token attends to itself."""
        self_weight, mean_logit = self.self_weight_and_mean_logit(query_key_initializer="glorot_uniform")
        self.assertLess(mean_logit, -8.0)
        self.assertGreater(self_weight, 0.9)

    def test_initializer_in_config(self):
        layer = layers.L2MultiHeadAttention(2, 4, query_key_initializer="orthogonal")
        clone = self.run_config_roundtrip(layer)
        self.assertIsInstance(clone.query_key_initializer, keras.initializers.Orthogonal)
        self.assertIsNone(layers.L2MultiHeadAttention(2, 4).get_config()["query_key_initializer"])
