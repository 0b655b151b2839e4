"""Writes a PNG grid of generator samples.

    python -m vitgan_tf.sample --preset vitgan_fashion_mnist --out samples.png
    python -m vitgan_tf.sample --preset PRESET_DIR --truncation-psi 0.7 --out grid.png
    python -m vitgan_tf.sample --generator RUN/checkpoints/ema_generator.keras --out grid.png
    python -m vitgan_tf.sample --architecture fashion_mnist --out untrained.png

`--preset` loads a preset with weights (a built-in name or a folder written
by `save_to_preset`); `--generator` a `.keras` file (safe mode);
`--architecture` builds an untrained generator (a check that the models
build and produce images). An architecture name given to `--preset` still
works, with a deprecation warning.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from vitgan_tf.images import save_grid  # noqa: E402
from vitgan_tf import limits  # noqa: E402
from vitgan_tf.images import grid_shape  # noqa: E402
from vitgan_tf.io import check_output_arg  # noqa: E402
from vitgan_tf.models import ARCHITECTURES, Generator, load_generator  # noqa: E402
from vitgan_tf.models.preset_utils import builtin_presets  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write a PNG grid of ViTGAN samples.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", help="a preset with weights: a built-in name "
                        f"({', '.join(builtin_presets()) or 'none installed'}) or a folder written by "
                        "save_to_preset or `python -m export --run RUN --to-preset DIR`")
    source.add_argument("--architecture", choices=sorted(ARCHITECTURES),
                        help="an UNTRAINED generator of an architecture (a check that the models build)")
    source.add_argument("--generator", help="a saved generator (.keras)")
    parser.add_argument("--out", required=True, help="output PNG path")
    parser.add_argument("--num", type=int, default=16, help="number of samples (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    parser.add_argument("--truncation-psi", type=float, default=1.0,
                        help="truncation trick: w moves to w_avg + psi (w - w_avg); 1 (default) is "
                             "none, 0 gives the mean image (in [0, 1])")
    args = parser.parse_args(argv)
    if not 0.0 <= args.truncation_psi <= 1.0:  # also refuses nan
        parser.error(f"Expected --truncation-psi in [0, 1]. Received: {args.truncation_psi}")
    try:
        limits.check_count("--num", args.num, 1, limits.MAX_GRID_IMAGES)
    except ValueError as error:
        parser.error(str(error))
    if not args.out.lower().endswith(".png"):
        parser.error(f"--out must end in .png, got {args.out!r}")
    check_output_arg(parser, args.out)

    keras.utils.set_random_seed(args.seed)
    try:
        if args.generator:
            generator = load_generator(args.generator)
        elif args.architecture:
            generator = Generator.from_architecture(args.architecture)
        else:
            generator = Generator.from_preset(args.preset)
        _, _, height, width = grid_shape(args.num, generator.image_size, generator.image_size)
        limits.check_output_pixels(f"--num {args.num}", height, width, generator.channels)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    z = keras.random.normal((args.num, generator.z_dim), seed=args.seed)
    if args.truncation_psi == 1.0:
        images = generator.predict(z, batch_size=64, verbose=0)
    else:
        if generator.w_avg is None:
            print(f"error: {generator.name} keeps no w_avg (saved before it existed): "
                  "--truncation-psi needs it", file=sys.stderr)
            return 2
        images = keras.ops.concatenate(
            [generator.generate(z[i:i + 64], args.truncation_psi) for i in range(0, args.num, 64)])
        images = keras.ops.convert_to_numpy(images)
    save_grid(images, args.out)
    print(f"wrote {args.num} samples ({images.shape[1]}x{images.shape[2]}x{images.shape[3]}) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
