"""Export a trained ViTGAN generator: SavedModel for TF Serving, TFLite for devices.

    python -m export --run runs/cifar10 --out exported            # EMA generator
    python -m export --generator G.keras --out exported --name vitgan --version 3
    python -m export.tflite_demo exported/tflite/vitgan/1/vitgan_float32.tflite \
        --num 16 --seed 0 --out grid.png --gif interp.gif

Layout under `--out OUT` (model name `NAME`, version `V`):

    OUT/NAME/V/                          SavedModel (TF Serving: --model_base_path=OUT/NAME)
    OUT/NAME/V/assets.extra/vitgan_export.json
    OUT/tflite/NAME/V/NAME_{float32,float16,int8}.tflite  (+ .json metadata beside each)

Submodules are imported on first use, so `python -m export.tflite_demo` does not
load the export machinery (SavedModel, converter).
"""

import importlib

import vitgan_tf  # noqa: F401  (first: it imports TensorFlow quietly, vitgan_tf.native_log)

# Public name -> (module, attribute), imported on first use.
_EXPORTS = {
    "POSTPROCESSING": (".common", "POSTPROCESSING"),
    "load_generator": ("vitgan_tf.models", "load_generator"),
    "resolve_checkpoint": (".common", "resolve_checkpoint"),
    "seed_latents": (".common", "seed_latents"),
    "to_uint8_tensor": (".common", "to_uint8_tensor"),
    "export_generator": (".main", "export_generator"),
    "export_saved_model": (".saved_model", "export_saved_model"),
    "TFLITE_VARIANTS": (".tflite", "TFLITE_VARIANTS"),
    "FlexOpsError": (".tflite", "FlexOpsError"),
    "convert_tflite": (".tflite", "convert"),
    "export_tflite": (".tflite", "export_tflite"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    return getattr(importlib.import_module(module, __name__), attribute)
