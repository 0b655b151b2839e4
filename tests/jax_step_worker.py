"""The GAN train step on the current Keras backend, for tests/test_jax_step.py.

    KERAS_BACKEND=jax python -m tests.jax_step_worker step FOLDER [vit|stylegan2]
    KERAS_BACKEND=jax XLA_FLAGS=--xla_force_host_platform_device_count=2 \
        python -m tests.jax_step_worker fit FOLDER

`step`: reads `FOLDER/step.npz` (written by the test on TensorFlow: the
weights before the step, the real batch and the step's randomness), runs
`ViTGAN.apply_step` with those draws and writes `step.{backend}.npz` (the
weights after, the losses).

`fit`: two `fit` steps on one device, and the same two under
`keras.distribution.DataParallel` over the CPU devices; writes
`fit.{backend}.json` with what the test checks.
"""

import json
import os
import sys

import keras
import numpy as np

from vitgan_tf.models import Discriminator, Generator, StyleGAN2Discriminator
from vitgan_tf.training.gan import TRACKER_NAMES, ViTGAN

# bCR, R1, DiffAugment (all four ops, gated at p = 0.5) and EMA all on. (R1 agrees since D
# uses ExactLayerNormalization: Keras' LayerNormalization made it 3% off on TensorFlow.)
# R1 at 0.05: at 0.5 the first D step (SGD 0.05 on a random tiny D, d_loss up to 190) left
# the ViT D's output constant for 3 of 8 random inits, so G's gradient fell to ~1e-7 and
# some G weights did not move by one float32 ulp; at 0.05 every weight moved for 8 inits of
# the ViT D and 6 of the StyleGAN2 D (docs/testing.md).
GAN_KWARGS = {"bcr_real": 1.0, "bcr_fake": 2.0, "r1_gamma": 0.05, "augment_p": 0.5,
              "ema_decay": 0.9, "seed": 3}
LEARNING_RATE = 0.05
BATCH = 4


def is_moving_isn_vector(variable):
    """An ISN power-iteration vector u that a step changes (not a 1-output layer's +-1)."""
    return variable.path.endswith("vector_u") and variable.shape[-1] > 1


def build_discriminator(architecture="vit"):
    """The tiny ViT D, or a narrow StyleGAN2 D (`"stylegan2"`, the hybrid) of the same shape."""
    if architecture == "stylegan2":
        return StyleGAN2Discriminator.from_architecture("tiny", width_multiplier=1 / 32)
    return Discriminator.from_architecture("tiny")


def build_gan(jit_compile=False, discriminator="vit"):
    """The tiny ViTGAN, compiled with SGD for both networks (no optimizer state).

    Its initial weights are random (`keras.utils.set_random_seed` would import
    TensorFlow); the tests set the weights they compare.
    """
    # mapping_lr_multiplier 1: with the default 0.01 the mapping's SGD update is near one
    # float32 ulp of its stored weights, and whether it shows depended on the random init.
    gan = ViTGAN(Generator.from_architecture("tiny", mapping_lr_multiplier=1.0),
                 build_discriminator(discriminator), **GAN_KWARGS)
    gan.compile(g_optimizer=keras.optimizers.SGD(LEARNING_RATE),
                d_optimizer=keras.optimizers.SGD(LEARNING_RATE), jit_compile=jit_compile)
    return gan


def networks(gan):
    """{prefix: model} of the weights compared across backends."""
    return {"g": gan.generator, "d": gan.discriminator, "e": gan.ema_generator}


def weights_of(gan):
    return {f"{prefix}{i}": np.asarray(keras.ops.convert_to_numpy(w))
            for prefix, model in networks(gan).items() for i, w in enumerate(model.weights)}


def set_weights(gan, stored):
    for prefix, model in networks(gan).items():
        model.set_weights([stored[f"{prefix}{i}"] for i in range(len(model.weights))])


def flatten_draws(draws):
    """{"draw:z_d": array, "draw:aug_real/shift": array, ...}."""
    flat = {}
    for key, value in draws.items():
        if isinstance(value, dict):
            flat.update({f"draw:{key}/{name}": np.asarray(keras.ops.convert_to_numpy(v))
                         for name, v in value.items()})
        else:
            flat[f"draw:{key}"] = np.asarray(keras.ops.convert_to_numpy(value))
    return flat


def unflatten_draws(stored):
    draws = {}
    for name in stored:
        if not name.startswith("draw:"):
            continue
        key, _, sub = name[len("draw:"):].partition("/")
        if sub:
            draws.setdefault(key, {})[sub] = stored[name]
        else:
            draws[key] = stored[name]
    return draws


def step(folder, discriminator="vit"):
    backend = keras.backend.backend()
    stored = dict(np.load(os.path.join(folder, "step.npz")))
    gan = build_gan(discriminator=discriminator)
    set_weights(gan, stored)
    stats = gan.apply_step(stored["real"], unflatten_draws(stored))
    np.savez(os.path.join(folder, f"step.{backend}.npz"), **weights_of(gan),
             **{f"stat:{k}": np.float32(v) for k, v in stats.items()})
    print(f"backend={backend} step tensorflow_imported={'tensorflow' in sys.modules}")


def _trained(images, distribution=None, initial=None):
    """(gan, history, weights before) after two `fit` steps of batch 2 * BATCH."""
    keras.distribution.set_distribution(distribution)
    try:
        gan = build_gan(jit_compile=True)  # fit's compiled step, as users run it
        if initial is not None:
            set_weights(gan, initial)
        before = weights_of(gan)
        seed_before = np.asarray(keras.ops.convert_to_numpy(gan.seed_generator.state))
        history = gan.fit(images, batch_size=2 * BATCH, epochs=1, steps_per_epoch=2,
                          shuffle=False, verbose=0)
    finally:
        keras.distribution.set_distribution(None)
    return gan, history, before, seed_before


def fit(folder):
    backend = keras.backend.backend()
    rng = np.random.default_rng(1)
    images = np.tanh(rng.normal(size=(4 * BATCH, 16, 16, 3))).astype("float32")
    gan, history, before, seed_before = _trained(images)
    after = weights_of(gan)
    changed = {}
    for prefix, model in networks(gan).items():
        for i, variable in enumerate(model.weights):
            key = f"{prefix}{i}"
            changed[f"{model.name}/{variable.path}"] = bool(
                not np.array_equal(before[key], after[key]))
    trainable = {f"{m.name}/{v.path}" for m in (gan.generator, gan.discriminator)
                 for v in m.trainable_weights}
    isn_vectors = {f"{gan.discriminator.name}/{v.path}" for v in gan.discriminator.weights
                   if is_moving_isn_vector(v)}
    devices = keras.distribution.list_devices("cpu")
    parallel, parallel_history, _, _ = _trained(
        images, keras.distribution.DataParallel(devices=devices), initial=before)
    parallel_after = weights_of(parallel)
    result = {
        "backend": backend,
        "losses": {name: [float(v) for v in history.history[name]] for name in TRACKER_NAMES},
        "parallel_losses": {name: [float(v) for v in parallel_history.history[name]]
                            for name in TRACKER_NAMES},
        "train_steps": int(keras.ops.convert_to_numpy(gan.train_steps)),
        "d_iterations": int(keras.ops.convert_to_numpy(gan.d_optimizer.iterations)),
        "g_iterations": int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations)),
        "seed_state_changed": bool(not np.array_equal(
            seed_before, keras.ops.convert_to_numpy(gan.seed_generator.state))),
        "unchanged_trainable": sorted(k for k in trainable if not changed[k]),
        "num_trainable": len(trainable),
        "unchanged_isn_vectors": sorted(k for k in isn_vectors if not changed[k]),
        "num_isn_vectors": len(isn_vectors),
        "ema_changed": any(v for k, v in changed.items() if k.startswith(gan.ema_generator.name)),
        "devices": len(devices),
        "parallel_max_abs_diff": max(float(np.max(np.abs(after[k] - parallel_after[k])))
                                     for k in after),
    }
    with open(os.path.join(folder, f"fit.{backend}.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"backend={backend} fit devices={len(devices)}")


if __name__ == "__main__":
    {"step": step, "fit": fit}[sys.argv[1]](*sys.argv[2:])
