"""Stand-ins for the Inception network in tests: fixed, cheap functions of the images' pixels.

A test of which images are scored, or of how scores are recorded, needs only some fixed function
of the images; Inception itself is tested in tests/test_inception.py and by the evaluation CLI's
test that builds its own network (tests/test_evaluate.py).
"""

import numpy as np


def pixel_features(images, grid=None):
    """The images' pixels scaled to [-1, 1] (uint8 in) or as given (float in), one row per image.

    With `grid`, each image is first averaged over a `grid` x `grid` partition (its height and
    width divisible by `grid`), so the features have `grid * grid * channels` columns. Float32 out.
    """
    images = np.asarray(images)
    x = images / 127.5 - 1.0 if images.dtype == np.uint8 else images
    n, h, w, c = x.shape
    if grid:
        x = x.reshape(n, grid, h // grid, grid, w // grid, c).mean(axis=(2, 4))
    return x.reshape(n, -1).astype(np.float32)


def pooled_pixels(images):
    """4x4-cell averages of the pixels: the smoke runs' stand-in (runs record it by this name).

    Two random image sets score an FID under 1 with it; a test that needs them told apart uses
    `pixel_features` without a grid.
    """
    return pixel_features(images, grid=4)
