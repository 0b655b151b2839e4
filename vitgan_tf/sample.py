"""Writes a PNG grid of generator samples.

    python -m vitgan_tf.sample --preset fashion_mnist --out samples.png
    python -m vitgan_tf.sample --generator RUN/checkpoints/ema_generator.keras --out grid.png

With `--preset` the generator is freshly initialised (untrained): a check that
the models build and produce images. With `--generator` it is loaded from a
`.keras` file (safe mode).
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from vitgan_tf.images import save_grid  # noqa: E402
from vitgan_tf import limits  # noqa: E402
from vitgan_tf.images import grid_shape  # noqa: E402
from vitgan_tf.io import check_output_file  # noqa: E402
from vitgan_tf.models import PRESETS, Generator, load_generator  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write a PNG grid of ViTGAN samples.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", choices=sorted(PRESETS), help="untrained generator of a preset")
    source.add_argument("--generator", help="a saved generator (.keras)")
    parser.add_argument("--out", required=True, help="output PNG path")
    parser.add_argument("--num", type=int, default=16, help="number of samples (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    args = parser.parse_args(argv)
    try:
        limits.check_count("--num", args.num, 1, limits.MAX_GRID_IMAGES)
    except ValueError as error:
        parser.error(str(error))
    if not args.out.lower().endswith(".png"):
        parser.error(f"--out must end in .png, got {args.out!r}")
    try:
        check_output_file(args.out)
    except ValueError as error:
        parser.error(str(error))

    keras.utils.set_random_seed(args.seed)
    try:
        generator = load_generator(args.generator) if args.generator else Generator.from_preset(args.preset)
        _, _, height, width = grid_shape(args.num, generator.image_size, generator.image_size)
        limits.check_output_pixels(f"--num {args.num}", height, width, generator.channels)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    z = keras.random.normal((args.num, generator.z_dim), seed=args.seed)
    images = generator.predict(z, batch_size=64, verbose=0)
    save_grid(images, args.out)
    print(f"wrote {args.num} samples ({images.shape[1]}x{images.shape[2]}x{images.shape[3]}) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
