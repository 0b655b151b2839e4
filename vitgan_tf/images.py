"""Image helpers shared by sampling, training callbacks and export: uint8 and grids."""

import math
import os
import tempfile

import numpy as np
from PIL import Image


def to_uint8(images):
    """float images in [-1, 1] (clipped) -> uint8 [0, 255]: round((x + 1) * 127.5)."""
    images = np.clip(np.asarray(images, dtype="float32"), -1.0, 1.0)
    return np.round((images + 1.0) * 127.5).astype("uint8")


def make_grid(images, columns=None):
    """Tiles `[N, H, W, C]` uint8 images into one `[rows*H, columns*W, C]` image.

    Missing cells of the last row stay black. `columns` defaults to ceil(sqrt(N)).
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"Expected a non-empty batch [N, H, W, C]. Received shape {images.shape}")
    count, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.zeros((rows * height, columns * width, channels), images.dtype)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * height:(r + 1) * height, c * width:(c + 1) * width] = image
    return grid


def save_grid(images, path, columns=None):
    """Writes float images in [-1, 1] as a PNG grid, atomically (temp file + rename)."""
    grid = make_grid(to_uint8(images), columns)
    if grid.shape[-1] == 1:
        grid = grid[..., 0]
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=folder)
    os.close(fd)
    try:
        Image.fromarray(grid).save(tmp, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path
