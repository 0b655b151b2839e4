"""Architectures (name -> constructor arguments, with where the numbers come from) and the
preset-model base class.

An architecture name (`ARCHITECTURES`: cifar10, celeba64, lsun_bedroom64,
fashion_mnist, tiny) builds an untrained model: `Generator.from_architecture`.
A preset, as in KerasHub, means weights: `Generator.from_preset` loads a
built-in preset (`vitgan_tf.models.preset_utils.builtin_presets()`) or a
folder written by `save_to_preset`.
"""

import copy
import warnings

import keras

from vitgan_tf.layers.utils import check_positive_int

# Shared by G and D. Sources:
# - cifar10, celeba64, lsun_bedroom64: ViTGAN (Lee et al., arXiv 2107.04589 v1),
#   section 5 / appendix: patch 4 (32x32) or 8 (64x64), 64 tokens, 4 or 6 blocks,
#   hidden 384, MLP 1536, 6 heads. Mapping network (8 layers, lr multiplier 0.01)
#   and implicit decoder width (384) as in the public PyTorch reproduction.
# - fashion_mnist: ours, sized for the 2-core CPU demo; 28x28 images are padded
#   to 32x32 with 2 pixels of background on each side (see vitgan_tf.data).
# - tiny: ours, for tests.
PRESETS = {
    "cifar10": {
        "image_size": 32, "channels": 3, "patch_size": 4, "depth": 4,
        "hidden_dim": 384, "mlp_dim": 1536, "num_heads": 6,
        "z_dim": 384, "mapping_layers": 8, "decoder_dim": 384, "fourier_dim": 384,
    },
    "celeba64": {
        "image_size": 64, "channels": 3, "patch_size": 8, "depth": 6,
        "hidden_dim": 384, "mlp_dim": 1536, "num_heads": 6,
        "z_dim": 384, "mapping_layers": 8, "decoder_dim": 384, "fourier_dim": 384,
    },
    "lsun_bedroom64": {
        "image_size": 64, "channels": 3, "patch_size": 8, "depth": 6,
        "hidden_dim": 384, "mlp_dim": 1536, "num_heads": 6,
        "z_dim": 384, "mapping_layers": 8, "decoder_dim": 384, "fourier_dim": 384,
    },
    "fashion_mnist": {
        "image_size": 32, "channels": 1, "patch_size": 4, "depth": 4,
        "hidden_dim": 192, "mlp_dim": 768, "num_heads": 4,
        "z_dim": 128, "mapping_layers": 4, "decoder_dim": 64, "fourier_dim": 64,
    },
    "tiny": {
        "image_size": 16, "channels": 3, "patch_size": 4, "depth": 1,
        "hidden_dim": 32, "mlp_dim": 64, "num_heads": 2,
        "z_dim": 16, "mapping_layers": 2, "decoder_dim": 16, "fourier_dim": 16,
    },
}

ARCHITECTURES = PRESETS  # the same table; `PRESETS` is its earlier name

SHARED_KEYS = ("image_size", "channels", "patch_size", "depth", "hidden_dim", "mlp_dim", "num_heads")


def get_preset(name):
    """A copy of preset `name`; `ValueError` listing the choices if unknown."""
    if name not in PRESETS:
        raise ValueError(f"Unknown architecture {name!r}. Choices: {sorted(PRESETS)}")
    return copy.deepcopy(PRESETS[name])


def validate_architecture(image_size, patch_size, hidden_dim, num_heads):
    """Raises `ValueError` naming the values if the shapes do not fit together."""
    for name, value in (("image_size", image_size), ("patch_size", patch_size),
                        ("hidden_dim", hidden_dim), ("num_heads", num_heads)):
        check_positive_int(name, value)
    if image_size % patch_size:
        raise ValueError(
            f"image_size={image_size} is not divisible by patch_size={patch_size}."
        )
    if hidden_dim % num_heads:
        raise ValueError(
            f"hidden_dim={hidden_dim} is not divisible by num_heads={num_heads}."
        )


def resolve(name, keys, overrides):
    """Architecture `name` restricted to `keys`, updated by `overrides` (checked)."""
    unknown = sorted(set(overrides) - set(keys))
    if unknown:
        raise ValueError(f"Unknown argument(s) {unknown} for architecture {name!r}. Choices: {sorted(keys)}")
    config = {k: v for k, v in get_preset(name).items() if k in keys}
    config.update(overrides)
    return config


class PresetModel(keras.Model):
    """Functional-model base: a config of constructor arguments; architectures and presets.

    Subclasses set `CONFIG_KEYS` (their constructor arguments) and store each
    as an attribute; `get_config` returns exactly those plus name/trainable.
    """

    CONFIG_KEYS = ()

    @classmethod
    def from_architecture(cls, name, **overrides):
        """An untrained model of architecture `name` (see `ARCHITECTURES`), with overrides."""
        return cls(**resolve(name, cls.CONFIG_KEYS, overrides))

    @classmethod
    def from_preset(cls, preset, load_weights=True, **overrides):
        """The model of `preset`, with its weights (KerasHub's meaning of a preset).

        Args:
            preset: str or path. A built-in preset name (e.g.
                `"vitgan_fashion_mnist"`) or a folder written by
                `save_to_preset`. An architecture name (`"cifar10"`, ...)
                still builds an untrained model, with a deprecation warning:
                use `from_architecture`.
            load_weights: bool, default True. False: the preset's
                architecture, freshly initialised.
            **overrides: constructor arguments; only with an architecture name.
        """
        from vitgan_tf.models import preset_utils  # noqa: PLC0415

        if (isinstance(preset, str) and preset in PRESETS and preset not in preset_utils.builtin_presets()
                and not preset_utils.is_preset_folder(preset)):
            warnings.warn(
                f"{cls.__name__}.from_preset({preset!r}) builds an UNTRAINED model: {preset!r} is an "
                f"architecture, and a preset name now means weights, as in KerasHub. Use "
                f"{cls.__name__}.from_architecture({preset!r}) for this model, or a preset with "
                f"weights: {sorted(preset_utils.builtin_presets()) or 'none installed'}",
                FutureWarning, stacklevel=2)
            return cls.from_architecture(preset, **overrides)
        if overrides:
            raise ValueError(f"Overrides {sorted(overrides)} apply to an architecture, not to the "
                             f"preset {preset!r} (its weights fix the shapes)")
        return preset_utils.load_from_preset(cls, preset, load_weights=load_weights)

    def save_to_preset(self, preset_dir, metadata=None):
        """Writes this model as a preset folder (`config.json`, `model.weights.h5`,
        `metadata.json` with `metadata` merged in); see `preset_utils`."""
        from vitgan_tf.models import preset_utils  # noqa: PLC0415

        return preset_utils.save_to_preset(self, preset_dir, metadata)

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        config.update({key: getattr(self, key) for key in self.CONFIG_KEYS})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
