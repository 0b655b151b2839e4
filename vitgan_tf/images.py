"""Image helpers shared by data, metrics, sampling, callbacks and export: padding, uint8, grids."""

import math

import numpy as np
from keras import ops
from PIL import Image

from vitgan_tf.io import atomic_write


def center_padding(height, width, size):
    """((top, bottom), (left, right)): the padding that centres an image on a size x size canvas.

    The one placement rule of every smaller image (Fashion-MNIST 28 -> 32: 2 per side) in the
    data pipeline, the metrics' real images and the benchmarks. Works on ints and on scalar
    tensors; an odd remainder goes to the bottom and the right.
    """
    top, left = (size - height) // 2, (size - width) // 2
    return (top, size - height - top), (left, size - width - left)


def pad_to_size(images, size, background):
    """Numpy `[N, h, w, C]` images centred on a `background` canvas of size x size (see
    `center_padding`); `ValueError` if they are larger."""
    height, width = images.shape[1:3]
    if height > size or width > size:
        raise ValueError(f"Cannot pad {height}x{width} images to image_size={size}.")
    if (height, width) == (size, size):
        return images
    rows, columns = center_padding(height, width, size)
    return np.pad(images, ((0, 0), rows, columns, (0, 0)), constant_values=background)


def quantize(images):
    """The one uint8 formula: float images in about [-1, 1] -> their uint8 values.

    `round(clip((x + 1) * 127.5, 0, 255))`, round half to even, as float32
    (a backend tensor; works inside compiled functions). Samples, FID's
    Inception input and the exported models all use it.
    """
    return ops.round(ops.clip((ops.cast(images, "float32") + 1.0) * 127.5, 0.0, 255.0))


def to_uint8(images):
    """float images in [-1, 1] (clipped) -> a uint8 numpy array (see `quantize`)."""
    return ops.convert_to_numpy(quantize(np.asarray(images, dtype="float32"))).astype("uint8")


def grid_shape(count, height, width, columns=None, padding=0, scale=1):
    """(rows, columns, grid height, grid width) of `make_grid`'s grid of `count` images."""
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    return (rows, columns, rows * (height * scale + padding) + padding,
            columns * (width * scale + padding) + padding)


def make_grid(images, columns=None, padding=0, scale=1, pad_value=0):
    """Tiles `[N, H, W, C]` uint8 images row-major into one `[H', W', C]` image.

    Args:
        images: uint8 array `[N, H, W, C]`, N >= 1.
        columns: int, default ceil(sqrt(N)). Images per row; missing cells of
            the last row are `pad_value`.
        padding: int, default 0. Pixels between and around the images.
        scale: int, default 1. Nearest-neighbour upscaling of each image.
        pad_value: int, default 0 (black).
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"Expected a non-empty batch [N, H, W, C]. Received shape {images.shape}")
    rows, columns, grid_height, grid_width = grid_shape(
        images.shape[0], images.shape[1], images.shape[2], columns, padding, scale)
    if scale > 1:
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
    count, height, width, channels = images.shape
    grid = np.full((grid_height, grid_width, channels), pad_value, images.dtype)
    for i, image in enumerate(images):
        top = padding + (i // columns) * (height + padding)
        left = padding + (i % columns) * (width + padding)
        grid[top:top + height, left:left + width] = image
    return grid


def to_pil(array):
    """A Pillow image from uint8 `[H, W, 1]` (mode L) or `[H, W, 3]` (RGB)."""
    if array.ndim != 3 or array.shape[-1] not in (1, 3):
        raise ValueError(f"Expected [H, W, 1] or [H, W, 3] to write an image. Received shape {array.shape}")
    return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)


def save_png(grid, path):
    """Writes a uint8 `[H, W, 1 or 3]` image as PNG, atomically."""
    image = to_pil(grid)
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))
    return path


def save_grid(images, path, columns=None):
    """Writes float images in [-1, 1] as a PNG grid, atomically."""
    return save_png(make_grid(to_uint8(images), columns), path)
