"""Lipschitz estimates: the largest Jacobian norm of a network, by power iteration.

For a map f and a point x, ||J_f(x)||_2 (the top singular value of the
Jacobian) is a local Lipschitz constant. Power iteration on J^T J needs one
Jacobian-vector product (forward-mode autodiff) and one vector-Jacobian
product (reverse mode) per step, never the Jacobian itself.
"""

import keras
import tensorflow as tf



def jacobian_norm(fn, inputs, num_iterations=20, seed=0):
    """Per-sample top singular value of the Jacobian of `fn` at `inputs`.

    `fn` maps a batch `[B, ...]` to a batch `[B, ...]` with the samples
    independent of each other (no batch statistics), so one batched power
    iteration runs B independent ones.

    Args:
        fn: callable on a float tensor.
        inputs: `[B, ...]` float tensor, the points.
        num_iterations: int, default 20. Power-iteration steps (one suffices
            for a scalar output per sample: J^T J is rank one).
        seed: int, default 0. Seed of the random start vector.

    Returns:
        float32 `[B]`, ||J_fn(inputs[b])||_2 for every sample.
    """
    if num_iterations <= 0:
        raise ValueError(f"Expected `num_iterations` > 0. Received: num_iterations={num_iterations}")
    x = tf.convert_to_tensor(inputs, tf.float32)
    axes = list(range(1, x.shape.rank))

    def normalize(v):
        return v / tf.sqrt(tf.reduce_sum(tf.square(v), axis=axes, keepdims=True) + 1e-24)

    def jtj(v):
        with tf.autodiff.ForwardAccumulator(x, v) as acc:
            y = tf.cast(fn(x), tf.float32)
        jv = acc.jvp(y)  # J v, [B, ...out]
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.cast(fn(x), tf.float32)
        return tape.gradient(y, x, output_gradients=jv), jv  # J^T J v

    v = normalize(tf.random.stateless_normal(tf.shape(x), seed=[seed, 0]))
    # A graph loop, so that a tf.function traces `fn` twice (loop body and
    # final product), not `num_iterations + 1` times.
    _, v = tf.while_loop(lambda i, _: i < num_iterations,
                         lambda i, v: (i + 1, normalize(jtj(v)[0])),
                         (tf.constant(0), v))
    _, jv = jtj(v)
    out_axes = list(range(1, jv.shape.rank))
    return tf.sqrt(tf.reduce_sum(tf.square(jv), axis=out_axes)) if out_axes else tf.abs(jv)


def class_token_parts(discriminator, images):
    """How much of D's class token depends on the image: (constant, image) norms.

    D's logit reads `LayerNorm(h_cls)`, `h_cls` the class token after the
    last block (`[B, hidden]`, the input of the `output_norm` layer). Split it
    over the batch into its mean `c = mean_b h_b` (the image-independent part,
    fed by the class token, position embeddings and biases, none of them
    spectrally normalised) and the deviations `h_b - c`. A constant part much
    larger than the image part makes the LayerNorm divide the image signal
    away: D's output flattens whatever the spectral norms of its projections.

    Args:
        discriminator: a `vitgan_tf.models.Discriminator`.
        images: `[B, H, W, C]` images, B >= 2.

    Returns:
        dict of Python floats: `constant` = ||c||, `image` =
        sqrt(mean_b ||h_b - c||^2), and `ratio` = constant / image.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    if images.shape.rank != 4 or images.shape[0] < 2:
        raise ValueError(f"Expected images [B >= 2, H, W, C]. Received shape {images.shape}")
    norm = discriminator.get_layer("output_norm")
    probe = keras.Model(discriminator.inputs, norm.input)
    h = tf.cast(probe(images, training=False), tf.float32)  # [B, hidden]
    constant = tf.reduce_mean(h, axis=0)
    image = tf.sqrt(tf.reduce_mean(tf.reduce_sum(tf.square(h - constant), axis=-1)))
    constant = tf.norm(constant)
    return {"constant": float(constant), "image": float(image),
            "ratio": float(constant / tf.maximum(image, 1e-12))}
