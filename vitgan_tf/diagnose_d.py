"""Why is D flat? The discriminator of a run folder, measured on real images.

    python -m vitgan_tf.diagnose_d runs/fashion_mnist [--images 256] [--json out.json]

Loads `checkpoints/discriminator.keras` (safe_mode) and the run's data source
from `config.json`, and prints, on the first `--images` real training images:
- `lipschitz`: D's largest Jacobian norm over them (`vitgan_tf.lipschitz`);
- `class_token`: the constant and image-dependent norms of the class token
  that feeds D's final LayerNorm (`vitgan_tf.lipschitz.class_token_parts`);
- `sigma`: each spectrally normalised projection's target norm (`sigma_init`).
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def diagnose(run_dir, num_images=256):
    """The measurements above as a dict (see the module docstring)."""
    import keras  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    import vitgan_tf  # noqa: F401, PLC0415 (registers the layers)
    from vitgan_tf import data as data_lib  # noqa: PLC0415
    from vitgan_tf.layers import ImprovedSpectralNormalization  # noqa: PLC0415
    from vitgan_tf.lipschitz import class_token_parts, jacobian_norm  # noqa: PLC0415

    from vitgan_tf.runs import RunFolder  # noqa: PLC0415

    run = RunFolder(run_dir)
    config = run.read_config()
    model_path = run.require_checkpoint("discriminator")
    disc = keras.saving.load_model(model_path, safe_mode=True)
    images = next(iter(data_lib.make_dataset(
        config["data"]["source"], disc.image_size, disc.channels, num_images, seed=config["seed"])))
    lipschitz = jacobian_norm(lambda x: disc(x, training=False), images, 10)
    sigmas = {layer.path: float(layer.sigma_init.numpy())
              for layer in disc._flatten_layers(include_self=False)
              if isinstance(layer, ImprovedSpectralNormalization)}
    return {"run": run_dir, "images": int(images.shape[0]),
            "lipschitz_max": float(tf.reduce_max(lipschitz)),
            "lipschitz_mean": float(tf.reduce_mean(lipschitz)),
            "class_token": class_token_parts(disc, images), "sigma": sigmas}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m vitgan_tf.diagnose_d",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("run", help="training run folder")
    parser.add_argument("--images", type=int, default=256, help="real images (default 256)")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args(argv)
    if args.images < 2:
        parser.error(f"--images must be >= 2, got {args.images}")
    if args.json:
        from vitgan_tf.io import check_output_arg  # noqa: PLC0415

        check_output_arg(parser, args.json, "--json")  # before the work
    try:
        result = diagnose(args.run, args.images)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        from vitgan_tf.io import atomic_write_text  # noqa: PLC0415

        atomic_write_text(args.json, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
