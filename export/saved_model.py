"""SavedModel export of a ViTGAN generator for TF Serving (Keras `ExportArchive`)."""

import os

import keras
import tensorflow as tf

from . import common

# Signature names of the SavedModel.
SERVING_DEFAULT = "serving_default"  # z float32 [n, z_dim] -> images uint8 [n, H, W, C]
FROM_SEED = "from_seed"  # seed int64 [], count int64 [] -> images uint8, z float32
FLOAT_IMAGES = "float_images"  # z float32 [n, z_dim] -> images float32 (raw output)
TRUNCATED = "truncated"  # z float32 [n, z_dim], truncation_psi float32 [] -> images uint8
METADATA_FILE = os.path.join("assets.extra", "vitgan_export.json")


def build_archive(generator):
    """A `keras.export.ExportArchive` with the three generator signatures.

    - `serving_default`: `z` float32 `[batch, z_dim]` -> `images` uint8
      `[batch, H, W, C]` (post-processed, see `common.POSTPROCESSING`).
    - `from_seed`: `seed` int64 scalar, `count` int64 scalar -> `images`
      uint8 `[count, H, W, C]` and the `z` used, from
      `common.seed_latents` (stateless, so deterministic).
    - `float_images`: `z` -> `images` float32, the raw generator output.
    - `truncated` (a generator with `w_avg`): `z`, `truncation_psi` float32
      scalar -> `images` uint8 of `generator.generate(z, truncation_psi)`
      (psi = 1: as `serving_default`).
    """
    z_dim = generator.z_dim
    archive = keras.export.ExportArchive()
    # No `archive.track(model)`: endpoints track the variables they use, and
    # with Keras 3.15 / TF 2.21 `track` stores every weight a second time.

    def serving_default(z):
        return {"images": common.to_uint8_tensor(generator(z, training=False))}

    def from_seed(seed, count):
        z = common.seed_latents(seed, count, z_dim)
        return {"images": common.to_uint8_tensor(generator(z, training=False)), "z": z}

    def float_images(z):
        return {"images": generator(z, training=False)}

    z_spec = tf.TensorSpec([None, z_dim], tf.float32, name="z")
    archive.add_endpoint(SERVING_DEFAULT, serving_default, input_signature=[z_spec])
    archive.add_endpoint(
        FROM_SEED,
        from_seed,
        input_signature=[
            tf.TensorSpec([], tf.int64, name="seed"),
            tf.TensorSpec([], tf.int64, name="count"),
        ],
    )
    archive.add_endpoint(FLOAT_IMAGES, float_images, input_signature=[z_spec])
    if generator.w_avg is not None:
        def truncated(z, truncation_psi):
            return {"images": common.to_uint8_tensor(generator.generate(z, truncation_psi))}

        archive.add_endpoint(TRUNCATED, truncated,
                             input_signature=[z_spec, tf.TensorSpec([], tf.float32, name="truncation_psi")])
    return archive


def write_saved_model(generator, path, metadata=None):
    """Writes the SavedModel of `generator` to the (new) folder `path`.

    `metadata` (a dict) is stored as `assets.extra/vitgan_export.json`,
    a folder TF Serving ignores.
    """
    build_archive(generator).write_out(path, verbose=False)
    if metadata is not None:
        os.makedirs(os.path.join(path, "assets.extra"), exist_ok=True)
        common.write_json(os.path.join(path, METADATA_FILE), metadata)
    return path


def export_saved_model(generator, out, name, version, source=None, run_config=None,
                       overwrite=False):
    """Exports `generator` to `out/name/version/` (TF Serving's layout).

    Args:
        generator: `vitgan_tf.models.Generator`.
        out: str. Model base folder (TF Serving's `--model_base_path` is
            `out/name`).
        name: str. Model name.
        version: int. Version folder.
        source: str or None. The checkpoint it came from (for the metadata).
        run_config: dict or None. The run's config (for the metadata).
        overwrite: bool, default False. Replace an existing version folder;
            otherwise an existing folder raises `FileExistsError`.

    Returns:
        The version folder.
    """
    path = os.path.join(out, common.check_name(name), str(common.check_version(version)))
    staging = common.prepare_output(path, overwrite)
    metadata = common.model_metadata(generator, source, run_config)
    metadata.update(
        {
            "format": "saved_model",
            "signatures": {
                SERVING_DEFAULT: "z float32 [n, z_dim] -> images uint8 [n, H, W, C]",
                FROM_SEED: "seed int64 [], count int64 [] -> images uint8 [count, H, W, C], "
                "z float32 [count, z_dim] (z = stateless_normal([count, z_dim], seed=[seed, 0]))",
                FLOAT_IMAGES: "z float32 [n, z_dim] -> images float32 [n, H, W, C] (raw)",
                **({TRUNCATED: "z float32 [n, z_dim], truncation_psi float32 [] -> images uint8 "
                               "[n, H, W, C] (w -> w_avg + psi (w - w_avg))"}
                   if generator.w_avg is not None else {}),
            },
        }
    )
    write_saved_model(generator, staging, metadata)
    return common.commit_output(staging, path)
