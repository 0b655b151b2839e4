"""The bounds of every count and size a command takes, and their one check.

A count outside its bound is refused before any work with one line naming
the flag or config key, its value and the bound, so that a typo (an extra
zero or three) cannot start hours of work or write a file of gigabytes. The
bounds are far above any real use; docs/training.md ("Bounds") lists them.
"""

import argparse
import math

MAX_GRID_IMAGES = 4096  # images in one PNG grid or GIF frame
MAX_OUTPUT_PIXELS = 1 << 26  # pixels of one written image (67M: ~200 MB as RGB)
MAX_GIF_PIXELS = 1 << 28  # pixels of all of a GIF's frames together
MAX_EVAL_SAMPLES = 200_000  # images scored by FID / KID / IS (papers report 10k-50k)
MAX_BATCH_SIZE = 65_536
MAX_STEPS = 10**9  # train steps of one run
MAX_SCALE = 64  # pixel upscaling of a written image
MAX_PADDING = 64  # pixels between grid images
MAX_THREADS = 1024
MAX_IMAGE_SIZE = 4096  # a model's or an evaluation's image side


def check_count(name, value, low, high):
    """Returns `value` if it is an int in [low, high]; else `ValueError` naming `name`.

    `name` is what the user typed: a flag (`--num`) or a config key
    (`train.num_samples`).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"Expected an integer {name}. Received: {value!r}")
    if not low <= value <= high:
        raise ValueError(f"Expected {name} in [{low}, {high}]. Received: {value}")
    return value


def check_output_pixels(name, height, width, channels=3, limit=MAX_OUTPUT_PIXELS):
    """`ValueError` naming `name` if an image of height x width would exceed `limit` pixels."""
    pixels = int(height) * int(width)
    if pixels > limit:
        raise ValueError(
            f"{name} would write a {height}x{width}x{channels} image ({pixels:,} pixels, "
            f"over the {limit:,} bound): fewer images or a smaller scale")
    return pixels



def int_arg(low, high):
    """An argparse `type`: an int in [low, high], else argparse's one-line error.

    >>> parser.add_argument("--iters", type=int_arg(1, 10**6), default=20)
    """
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected an integer in [{low}, {high}], got {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in its messages
    return parse


def float_arg(low, high, include_low=False):
    """An argparse `type`: a finite float in (low, high] ([low, high] with `include_low`),
    else argparse's one-line error."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        above = low <= value if include_low else low < value
        if not (math.isfinite(value) and above and value <= high):
            raise argparse.ArgumentTypeError(
                f"expected a number in {'[' if include_low else '('}{low:g}, {high:g}], got {text}")
        return value

    parse.__name__ = "float"
    return parse
