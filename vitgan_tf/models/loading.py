"""Loading saved generators with clear errors (used by sampling, evaluation and export)."""

import contextlib
import os
import zipfile

import keras

from vitgan_tf.models.generator import Generator


@contextlib.contextmanager
def float32_policy():
    """Builds models in float32 inside the block, whatever the global dtype policy: the
    model configs do not store the policy, so loaded models would follow the global one."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(policy)


def load_model_file(path, classes, what):
    """Loads a `.keras` file (safe mode, float32) holding one of `classes`, with clear errors.

    Args:
        path: str. A `.keras` file.
        classes: a class or tuple of classes the model must be.
        what: str. What the file should hold, for the messages (e.g. "a generator").

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: not a readable `.keras` archive, or a model of another class.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Checkpoint not found: {path!r} (expected {what})")
    if os.path.isdir(path) or not path.endswith(".keras"):
        raise ValueError(f"Expected a `.keras` file holding {what}. Received: {path!r}")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"Checkpoint {path!r} is corrupt: it is not a `.keras` (zip) archive "
            f"({os.path.getsize(path)} bytes)."
        )
    try:
        with float32_policy():  # exports compute in float32 even after mixed precision
            model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # Keras raises many types for damaged archives.
        raise ValueError(
            f"Could not load checkpoint {path!r} as a Keras model "
            f"({type(error).__name__}: {error})"
        ) from error
    if not isinstance(model, classes):
        raise ValueError(
            f"{path!r} holds a {type(model).__name__} named {model.name!r}, not a ViTGAN "
            f"model of the expected kind; expected {what}."
        )
    return model


def load_generator(path):
    """Loads a ViTGAN `Generator` from a `.keras` file, with clear errors (`load_model_file`).

    Args:
        path: str. A `.keras` file written by `Generator.save`.

    Returns:
        The `vitgan_tf.models.Generator`, computing in float32 whatever the
        global dtype policy (mixed-precision checkpoints included).

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: `path` is not a readable `.keras` archive (corrupt,
            truncated, wrong format) or holds a model that is not a ViTGAN
            `Generator` (e.g. a discriminator or a plain Dense model).
    """
    return load_model_file(path, Generator, "a generator (`vitgan_tf.models.Generator`)")
