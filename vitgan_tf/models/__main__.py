"""Model summary: parameters and forward FLOPs of G and D per preset.

    python -m vitgan_tf.models --preset cifar10
    python -m vitgan_tf.models --all --markdown   # README's preset table
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from vitgan_tf.models import flops, presets  # noqa: E402
from vitgan_tf.models.discriminator import Discriminator  # noqa: E402
from vitgan_tf.models.generator import Generator  # noqa: E402


def summarize(name):
    """Returns a dict of the preset's shapes, parameter counts and GFLOPs."""
    gen = Generator.from_architecture(name)
    disc = Discriminator.from_architecture(name)
    return {
        "preset": name,
        "image": f"{gen.image_size}x{gen.image_size}x{gen.channels}",
        "patch": gen.patch_size,
        "tokens": (gen.image_size // gen.patch_size) ** 2,
        "depth": gen.depth,
        "hidden": gen.hidden_dim,
        "mlp": gen.mlp_dim,
        "heads": gen.num_heads,
        "G params (M)": gen.count_params() / 1e6,
        "D params (M)": disc.count_params() / 1e6,
        "G GFLOPs/img": flops.generator_flops(gen.get_config())["total"] / 1e9,
        "D GFLOPs/img": flops.discriminator_flops(disc.get_config())["total"] / 1e9,
    }


def _format(value):
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--preset", choices=sorted(presets.PRESETS))
    group.add_argument("--all", action="store_true", help="every preset")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    names = list(presets.PRESETS) if args.all else [args.preset]
    rows = [summarize(name) for name in names]
    header = list(rows[0])
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + " --- |" * len(header))
        for row in rows:
            print("| " + " | ".join(_format(row[k]) for k in header) + " |")
    else:
        for row in rows:
            for key in header:
                print(f"{key:>14}: {_format(row[key])}")
            print()


if __name__ == "__main__":
    main()
