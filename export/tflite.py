"""TFLite export (float32, float16, dynamic-range int8), TFLite built-in ops only.

The converter is restricted to `TFLITE_BUILTINS`: a graph that would need
the Flex delegate (`SELECT_TF_OPS`) fails the export with `FlexOpsError`
naming the TensorFlow ops, instead of producing a model that phones without
the Flex delegate cannot run.

Every `.tflite` file has one signature, `serving_default`: input `z` float32
`[batch, z_dim]` (batch resizable), outputs `images` uint8 `[batch, H, W, C]`
and `images_float` float32 (the raw generator output). A JSON file with the
same stem sits beside it.
"""

import os
import re
import tempfile

import keras
import numpy as np
import tensorflow as tf

from . import common

TFLITE_VARIANTS = ("float32", "float16", "int8")


class FlexOpsError(RuntimeError):
    """The graph needs TensorFlow ops that TFLite lacks as built-ins (Flex)."""


def _tflite_archive(model, input_name="z", batch_size=None, truncation=False):
    """ExportArchive with the TFLite signature (float input(s), dict out).

    `batch_size` None: a dynamic batch (resizable); an int: a static one
    (LiteRT.js in a browser runs only static shapes). `truncation`: a
    second input `truncation_psi` float32 `[1]` and the images of
    `model.generate(z, truncation_psi)` (a `Generator` with `w_avg`).

    Goes through a SavedModel because converting Keras 3 models from
    concrete functions reads uninitialised variables (NaN outputs) on
    TF 2.21.
    """
    spec = tf.TensorSpec([batch_size] + list(model.inputs[0].shape[1:]), tf.float32, name=input_name)
    archive = keras.export.ExportArchive()
    # No `archive.track(model)`: endpoints track the variables they use, and
    # with Keras 3.15 / TF 2.21 `track` stores every weight a second time.

    def outputs(images):
        images = tf.cast(images, tf.float32)
        return {"images": common.to_uint8_tensor(images), "images_float": images}

    if truncation:
        def serving_default(z, truncation_psi):
            return outputs(model.generate(z, truncation_psi))

        psi_spec = tf.TensorSpec([1], tf.float32, name="truncation_psi")
        archive.add_endpoint("serving_default", serving_default, input_signature=[spec, psi_spec])
    else:
        def serving_default(z):
            return outputs(model(z, training=False))

        archive.add_endpoint("serving_default", serving_default, input_signature=[spec])
    return archive


def _converter(saved_model_dir, variant):
    """A builtins-only `TFLiteConverter` configured for `variant`."""
    if variant not in TFLITE_VARIANTS:
        raise ValueError(f"Expected `variant` in {TFLITE_VARIANTS}. Received: variant={variant!r}")
    converter = tf.lite.TFLiteConverter.from_saved_model(
        saved_model_dir, signature_keys=["serving_default"]
    )
    # Built-in ops only: no SELECT_TF_OPS (Flex), no custom ops.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = False
    if variant == "float16":
        # Weights stored as float16, dequantised to float32 at load time.
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "int8":
        # Dynamic-range quantization: int8 weights, float activations.
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter


def _flex_ops(message):
    """The TF op names a converter error says need Flex (empty if none)."""
    ops = set()
    for line in re.findall(r"TF Select ops: ([^\n]+)", message):
        ops.update(op.strip() for op in line.split(",") if op.strip())
    ops.update(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", message))
    return sorted(ops)


def convert(model, variant="float32", batch_size=None, truncation=False):
    """Converts a single-input Keras model to TFLite bytes, built-ins only.

    Args:
        model: keras.Model with one float input `[batch, features]`
            (a ViTGAN `Generator`).
        variant: `"float32"`, `"float16"` or `"int8"` (dynamic range).
        batch_size: int or None (default: a dynamic batch). A static batch
            for runtimes without dynamic shapes (LiteRT.js).
        truncation: bool, default False. Add the `truncation_psi` input
            (see `_tflite_archive`).

    Returns:
        The `.tflite` flatbuffer as bytes.

    Raises:
        FlexOpsError: the graph uses ops without a TFLite built-in kernel.
        RuntimeError: any other converter failure (message included).
    """
    if variant not in TFLITE_VARIANTS:
        raise ValueError(f"Expected `variant` in {TFLITE_VARIANTS}. Received: variant={variant!r}")
    with tempfile.TemporaryDirectory(prefix="vitgan_tflite_") as tmp:
        saved_model_dir = os.path.join(tmp, "saved_model")
        _tflite_archive(model, batch_size=batch_size, truncation=truncation).write_out(
            saved_model_dir, verbose=False)
        try:
            return _converter(saved_model_dir, variant).convert()
        except Exception as error:  # tf.lite's ConverterError is not public API.
            message = str(error)
            ops = _flex_ops(message)
            if ops or "flex" in message.lower():
                raise FlexOpsError(
                    f"TFLite export ({variant}) of model {model.name!r} needs TensorFlow ops "
                    f"that are not TFLite built-ins: {ops or 'see converter log'}. Built-in "
                    "ops only are allowed (no Flex / SELECT_TF_OPS delegate on device); "
                    "rewrite these ops with built-in ones."
                ) from error
            raise RuntimeError(
                f"TFLite conversion ({variant}) of model {model.name!r} failed: {message}"
            ) from error


def smoke_test(model_path, z_dim, image_shape):
    """Runs one batch through `model_path` with ai-edge-litert; checks shapes.

    Without the Flex delegate, a model with Flex or custom ops fails here.
    """
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=model_path).get_signature_runner("serving_default")
    out = runner(z=np.zeros((2, z_dim), np.float32))
    expected = (2,) + tuple(image_shape)
    if out["images"].shape != expected or out["images"].dtype != np.uint8:
        raise RuntimeError(
            f"{model_path!r} returned images {out['images'].shape} {out['images'].dtype}; "
            f"expected {expected} uint8."
        )


def export_tflite(generator, out, name, version, variants=TFLITE_VARIANTS, source=None,
                  run_config=None, overwrite=False):
    """Writes `out/name/version/name_{variant}.tflite` (+ `.json`) per variant.

    Args:
        generator: `vitgan_tf.models.Generator`.
        out: str. Base folder (e.g. `OUT/tflite`).
        name: str. Model name.
        version: int. Version folder.
        variants: iterable of `TFLITE_VARIANTS`.
        source: str or None. The checkpoint it came from (for the metadata).
        run_config: dict or None. The run's config (for the metadata).
        overwrite: bool, default False. Replace an existing version folder.

    Returns:
        Dict variant -> path of the `.tflite` file.
    """
    variants = list(variants)
    unknown = sorted(set(variants) - set(TFLITE_VARIANTS))
    if unknown or not variants:
        raise ValueError(f"Expected `variants` among {TFLITE_VARIANTS}. Received: variants={variants}")
    path = os.path.join(out, common.check_name(name), str(common.check_version(version)))
    staging = common.prepare_output(path, overwrite)
    os.makedirs(staging)
    base = common.model_metadata(generator, source, run_config)
    image_shape = (generator.image_size, generator.image_size, generator.channels)
    written = {}
    for variant in variants:
        flatbuffer = convert(generator, variant)
        filename = f"{name}_{variant}.tflite"
        model_path = os.path.join(staging, filename)
        with open(model_path, "wb") as f:
            f.write(flatbuffer)
        smoke_test(model_path, generator.z_dim, image_shape)
        metadata = dict(base)
        metadata.update(
            {
                "format": "tflite",
                "variant": variant,
                "file": filename,
                "size_bytes": len(flatbuffer),
                "ops": "TFLITE_BUILTINS only (no Flex delegate needed)",
                "signature": "serving_default: z float32 [n, z_dim] -> images uint8 "
                "[n, H, W, C], images_float float32 [n, H, W, C]",
            }
        )
        common.write_json(os.path.join(staging, f"{name}_{variant}.json"), metadata)
        written[variant] = os.path.join(path, filename)
    common.commit_output(staging, path)
    return written
