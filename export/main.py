"""`export_generator`: run folder, `.keras` file or preset -> SavedModel and TFLite files."""

import os
import shutil

from vitgan_tf.io import check_output_folder
from vitgan_tf.models import Generator, load_generator, preset_utils

from . import common
from .saved_model import export_saved_model
from .tflite import TFLITE_VARIANTS, export_tflite

FORMATS = ("saved_model", "tflite")
TFLITE_FOLDER = "tflite"


def export_paths(out, name, version):
    """`(saved_model_dir, tflite_dir)` of one export version."""
    return (
        os.path.join(out, name, str(version)),
        os.path.join(out, TFLITE_FOLDER, name, str(version)),
    )


def export_generator(out, run=None, generator=None, checkpoint="ema", name="vitgan",
                     version=None, formats=FORMATS, variants=TFLITE_VARIANTS, overwrite=False,
                     preset=None):
    """Exports a generator checkpoint as a SavedModel and/or TFLite files.

    Args:
        out: str. Output base folder.
        run: str or None. Training run folder (uses `checkpoint` in it).
        generator: str or None. A `.keras` generator file instead of `run`.
        checkpoint: `"ema"` (default) or `"generator"` (run folders only).
        name: str, default `"vitgan"`. Model name (TF Serving `model_name`).
        version: int or None. Version folder; None = 1 + the largest
            version already under `out` for this name.
        formats: subset of `("saved_model", "tflite")`.
        variants: subset of `("float32", "float16", "int8")` for TFLite.
        overwrite: bool, default False. Replace existing version folders
            (otherwise they raise `FileExistsError` before anything is written).
        preset: str or None. A preset with weights (a built-in name or a
            folder) instead of `run` or `generator`.

    Returns:
        Dict with `"version"`, `"saved_model"` (folder or None) and
        `"tflite"` (dict variant -> file).
    """
    formats = list(formats)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ValueError(f"Expected `formats` among {FORMATS}. Received: formats={formats}")
    common.check_name(name)
    if name == TFLITE_FOLDER:
        raise ValueError(f"`name` {name!r} is reserved for the TFLite folder; choose another.")
    out = os.fspath(out)
    if preset is not None:
        if run is not None or generator is not None:
            raise ValueError(f"Give one of `run`, `generator` and `preset`. Received: run={run!r}, "
                             f"generator={generator!r}, preset={preset!r}")
        folder = preset_utils.preset_folder(preset)
        path, run_config = os.path.join(folder, preset_utils.WEIGHTS_FILE), None
    else:
        path, run_config = common.resolve_checkpoint(run, generator, checkpoint)
    check_output_folder(out)  # created if missing, once the source is known good
    if version is None:
        version = common.next_version(
            os.path.join(out, name), os.path.join(out, TFLITE_FOLDER, name)
        )
    version = common.check_version(version)
    saved_model_dir, tflite_dir = export_paths(out, name, version)
    # Check every destination before writing anything.
    for fmt, dest in (("saved_model", saved_model_dir), ("tflite", tflite_dir)):
        if fmt in formats and os.path.exists(dest) and not overwrite:
            raise FileExistsError(
                f"Export destination {dest!r} already exists; choose another --version "
                "or pass --overwrite to replace it."
            )
    model = Generator.from_preset(folder) if preset is not None else load_generator(path)
    result = {"version": version, "source": path, "saved_model": None, "tflite": {}}
    created = []  # Version folders this call made, removed again if a later step fails.
    try:
        if "tflite" in formats:
            existed = os.path.exists(tflite_dir)
            result["tflite"] = export_tflite(
                model, os.path.join(out, TFLITE_FOLDER), name, version, variants=variants,
                source=path, run_config=run_config, overwrite=overwrite,
            )
            created += [] if existed else [tflite_dir]
        if "saved_model" in formats:
            result["saved_model"] = export_saved_model(
                model, out, name, version, source=path, run_config=run_config,
                overwrite=overwrite,
            )
    except BaseException:
        for folder in created:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return result
