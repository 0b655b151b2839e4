"""Loading generators, post-processing, version folders and metadata for export."""

import datetime
import hashlib
import json
import os
import re
import shutil

import keras
import numpy as np
import tensorflow as tf

import vitgan_tf
from vitgan_tf import runs
from vitgan_tf.images import quantize
from vitgan_tf.runs import RunFolder

# Which checkpoint of a run folder (`vitgan_tf.runs.CHECKPOINTS`) each `--checkpoint` exports.
RUN_CHECKPOINTS = {"ema": "ema_generator", "generator": "generator"}

# How float generator outputs become images (the same in every export).
POSTPROCESSING = (
    "images_uint8 = round((clip(x, -1, 1) + 1) * 127.5), round half to even, "
    "where x is the float32 generator output (about [-1, 1], not squashed)"
)


def resolve_checkpoint(run=None, generator=None, checkpoint="ema"):
    """The `.keras` file to export and the run config, from a run folder or a file.

    Args:
        run: str or None. A training run folder (`config.json`,
            `checkpoints/ema_generator.keras`, `checkpoints/generator.keras`).
        generator: str or None. A `.keras` generator file. Exactly one of
            `run` and `generator` must be given.
        checkpoint: `"ema"` (default) or `"generator"`, which checkpoint of
            a run folder to use.

    Returns:
        `(path, run_config)`: the checkpoint path and the run's parsed
        `config.json` (None when exporting a bare file).
    """
    if (run is None) == (generator is None):
        raise ValueError(
            f"Give exactly one of `run` and `generator`. Received: run={run!r}, "
            f"generator={generator!r}"
        )
    if generator is not None:
        return os.fspath(generator), None
    if checkpoint not in RUN_CHECKPOINTS:
        raise ValueError(
            f"Expected `checkpoint` in {tuple(RUN_CHECKPOINTS)}. Received: checkpoint={checkpoint!r}"
        )
    folder = RunFolder(run)
    run_config = folder.read_config()
    return folder.require_checkpoint(RUN_CHECKPOINTS[checkpoint]), run_config


def to_uint8_tensor(images):
    """Float generator output -> uint8 images (see `POSTPROCESSING`).

    Args:
        images: float tensor or array in about [-1, 1].

    Returns:
        A `tf.uint8` tensor of the same shape.
    """
    return tf.cast(quantize(images), tf.uint8)


def seed_latents(seed, count, z_dim):
    """The latents of the SavedModel's `from_seed` signature.

    `z = tf.random.stateless_normal([count, z_dim], seed=[seed, 0])`: the
    same `(seed, count)` gives the same z on every machine and TF version
    that keeps the Philox stateless RNG.
    """
    seed = tf.cast(seed, tf.int64)
    count = tf.cast(count, tf.int32)
    return tf.random.stateless_normal(
        tf.stack([count, tf.constant(z_dim, tf.int32)]), seed=tf.stack([seed, tf.constant(0, tf.int64)])
    )


def sha256(path):
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_file_step(path):
    """The training step of a run checkpoint (`state.json` beside it), or None."""
    return runs.read_state_step(os.path.join(os.path.dirname(os.path.abspath(path)), runs.STATE_FILE))


def model_metadata(generator, source=None, run_config=None):
    """The facts every export's JSON states about the model and its source."""
    return {
        "z_dim": int(generator.z_dim),
        "image_size": int(generator.image_size),
        "channels": int(generator.channels),
        "output_dtype": "uint8",
        "postprocessing": POSTPROCESSING,
        "source_checkpoint": os.path.abspath(source) if source else None,
        "source_sha256": sha256(source) if source and os.path.isfile(source) else None,
        "source_step": checkpoint_file_step(source) if source else None,
        "generator_config": generator.get_config(),
        "run_config": run_config,
        "vitgan_tf_version": vitgan_tf.__version__,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def write_json(path, data):
    """Writes `data` as indented JSON (non-JSON values become strings)."""
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=str)
        f.write("\n")


def check_name(name):
    """A model name usable as a folder name (TF Serving's `model_name`)."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ValueError(
            "Expected `name` of letters, digits, '_', '.', '-' (a TF Serving model "
            f"name). Received: name={name!r}"
        )
    return name


def existing_versions(folder):
    """The integer version folders in `folder` (empty if it does not exist)."""
    if not os.path.isdir(folder):
        return []
    return sorted(int(d) for d in os.listdir(folder) if d.isdigit())


def next_version(*folders):
    """1 + the largest version folder found in any of `folders` (1 if none)."""
    versions = [v for folder in folders for v in existing_versions(folder)]
    return max(versions, default=0) + 1


def check_version(version):
    """A positive integer version (TF Serving loads only numeric folders)."""
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version <= 0:
        raise ValueError(f"Expected `version` a positive int. Received: version={version!r}")
    return int(version)


def prepare_output(path, overwrite=False):
    """Checks that `path` can be (re)written; returns a fresh staging path.

    Exports are written to `<path>.partial` and moved into place by
    `commit_output`, so a crash never leaves a half-written version folder
    that TF Serving could pick up.

    Raises:
        FileExistsError: `path` exists and `overwrite` is False.
    """
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(
            f"Export destination {path!r} already exists; choose another --version "
            "or pass --overwrite to replace it."
        )
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"Cannot write to {parent!r}.")
    staging = path + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    return staging


def commit_output(staging, path):
    """Moves a finished staging folder to `path`, replacing what was there."""
    if os.path.exists(path):
        shutil.rmtree(path)
    os.replace(staging, path)
    return path
