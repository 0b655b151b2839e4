"""Presets with weights, in KerasHub's folder layout: save, list, load (safe mode).

A preset is a folder:

    config.json        the model, `keras.saving.serialize_keras_object(model)`
    model.weights.h5   its weights (`model.save_weights`)
    metadata.json      versions, parameter count, date; for a trained one, its
                       run: recipe, steps, FID / KID
    discriminator.json, discriminator.weights.h5   optional: a ViTGAN's D
                       beside its (EMA) generator

`Generator.from_preset(name_or_folder)` reads `config.json`;
`Discriminator.from_preset(folder)` reads `config.json` when it holds a
discriminator, else `discriminator.json`. Built-in presets are the folders
under `vitgan_tf/presets/` (installed with the package, loadable offline).
Architecture names (`ARCHITECTURES`: cifar10, tiny, ...) hold no weights:
`from_architecture(name)` builds them untrained.
"""

import datetime
import json
import os

import keras

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
DISCRIMINATOR_CONFIG_FILE = "discriminator.json"
DISCRIMINATOR_WEIGHTS_FILE = "discriminator.weights.h5"
BUILTIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "presets")


def builtin_presets():
    """{name: folder} of the presets shipped in `vitgan_tf/presets/`."""
    if not os.path.isdir(BUILTIN_DIR):
        return {}
    return {name: os.path.join(BUILTIN_DIR, name) for name in sorted(os.listdir(BUILTIN_DIR))
            if os.path.isfile(os.path.join(BUILTIN_DIR, name, CONFIG_FILE))}


def is_preset_folder(path):
    """True if `path` is a folder holding a preset's `config.json`."""
    return isinstance(path, (str, os.PathLike)) and os.path.isfile(os.path.join(path, CONFIG_FILE))


def preset_folder(preset):
    """The folder of `preset` (a built-in name or a folder); `ValueError` naming the choices."""
    builtin = builtin_presets()
    if isinstance(preset, str) and preset in builtin:
        return builtin[preset]
    if is_preset_folder(preset):
        return os.fspath(preset)
    if isinstance(preset, (str, os.PathLike)) and os.path.isdir(preset):
        raise ValueError(f"Preset folder {os.fspath(preset)!r} holds no {CONFIG_FILE}: not a preset "
                         f"(expected {CONFIG_FILE}, {WEIGHTS_FILE}, {METADATA_FILE})")
    raise ValueError(f"Unknown preset {preset!r}. Built-in presets (with weights): "
                     f"{sorted(builtin) or 'none installed'}; or a folder written by `save_to_preset`")


def _read_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise ValueError(f"Preset file missing: {path!r} ({what})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"Preset file {path!r} ({what}) is corrupt: {type(error).__name__}: "
                         f"{error}") from None


def read_metadata(preset):
    """The `metadata.json` of `preset` (a name or a folder) as a dict ({} if absent)."""
    path = os.path.join(preset_folder(preset), METADATA_FILE)
    return _read_json(path, "metadata") if os.path.exists(path) else {}


def _write_json(path, value):
    from vitgan_tf.io import atomic_write_text  # noqa: PLC0415

    atomic_write_text(path, json.dumps(value, indent=2) + "\n")


def model_metadata(model, extra=None):
    """KerasHub's metadata fields for `model`, plus `extra` (a dict)."""
    import vitgan_tf  # noqa: PLC0415

    return {"keras_version": keras.__version__, "vitgan_tf_version": vitgan_tf.__version__,
            "parameter_count": int(model.count_params()),
            "date_saved": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d@%H:%M:%S"),
            **(extra or {})}


def save_to_preset(model, preset_dir, metadata=None, discriminator=None):
    """Writes `model` (and a `discriminator` beside it) as the preset folder `preset_dir`.

    Refuses a folder that exists and is not empty. `metadata` (a dict) is
    merged into `metadata.json`.
    """
    from vitgan_tf.io import check_new_folder  # noqa: PLC0415

    preset_dir = os.fspath(preset_dir)
    check_new_folder(preset_dir, flag="Preset folder")
    os.makedirs(preset_dir, exist_ok=True)
    _write_json(os.path.join(preset_dir, CONFIG_FILE), keras.saving.serialize_keras_object(model))
    model.save_weights(os.path.join(preset_dir, WEIGHTS_FILE))
    extra = dict(metadata or {})
    if discriminator is not None:
        _write_json(os.path.join(preset_dir, DISCRIMINATOR_CONFIG_FILE),
                    keras.saving.serialize_keras_object(discriminator))
        discriminator.save_weights(os.path.join(preset_dir, DISCRIMINATOR_WEIGHTS_FILE))
        extra.setdefault("discriminator_parameter_count", int(discriminator.count_params()))
    _write_json(os.path.join(preset_dir, METADATA_FILE), model_metadata(model, extra))
    return preset_dir


def update_metadata(preset_dir, extra):
    """Merges the dict `extra` into the `metadata.json` of the preset folder `preset_dir`."""
    path = os.path.join(preset_folder(preset_dir), METADATA_FILE)
    metadata = _read_json(path, "metadata") if os.path.exists(path) else {}
    metadata.update(extra)
    _write_json(path, metadata)
    return metadata


def load_from_preset(cls, preset, load_weights=True):
    """A `cls` model (Generator, Discriminator, ...) from `preset`, in safe mode.

    Reads `config.json` if it holds a `cls`, else `discriminator.json` for a
    discriminator class; then the matching weights when `load_weights`.
    The model computes in float32 whatever the global dtype policy.
    """
    folder = preset_folder(preset)
    files = ((CONFIG_FILE, WEIGHTS_FILE), (DISCRIMINATOR_CONFIG_FILE, DISCRIMINATOR_WEIGHTS_FILE))
    found = []
    for config_file, weights_file in files:
        path = os.path.join(folder, config_file)
        if not os.path.exists(path):
            continue
        config = _read_json(path, "model config")
        name = config.get("class_name") if isinstance(config, dict) else None
        found.append(name)
        if name == cls.__name__:
            break
    else:
        raise ValueError(f"Preset {preset!r} holds no {cls.__name__} (it holds {found})")
    from vitgan_tf.models.loading import float32_policy  # noqa: PLC0415

    try:
        with float32_policy():
            model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    except Exception as error:  # Keras raises many types for a damaged config.
        raise ValueError(f"Preset file {path!r} does not describe a {cls.__name__} "
                         f"({type(error).__name__}: {error})") from error
    if not isinstance(model, cls):
        raise ValueError(f"Preset file {path!r} holds a {type(model).__name__}, not a {cls.__name__}")
    if load_weights:
        weights = os.path.join(folder, weights_file)
        if not os.path.isfile(weights):
            raise ValueError(f"Preset file missing: {weights!r} (weights; pass load_weights=False "
                             "for the untrained model)")
        try:
            model.load_weights(weights)
        except Exception as error:  # h5py and Keras raise many types for a damaged file.
            raise ValueError(f"Preset weights {weights!r} are corrupt or do not fit the model "
                             f"({type(error).__name__}: {error})") from error
    return model
