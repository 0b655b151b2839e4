"""Image sources as numpy arrays: no TensorFlow, so they load on any backend.

`vitgan_tf.data` builds its tf.data pipelines on these; `bench/gpu_check.py`
reads Fashion-MNIST with them where TensorFlow is absent. Every loader
returns uint8 `[N, H, W, C]`.
"""

import gzip
import logging
import os
import zlib

import numpy as np

from vitgan_tf.io import read_npz

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

logger = logging.getLogger(__name__)


def read_idx_images(path):
    """Reads an IDX image file (optionally gzip) as uint8 `[N, rows, cols]`."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise
    except (OSError, EOFError, zlib.error) as error:  # not gzip, truncated, unreadable
        raise ValueError(f"{path!r} is not a readable IDX file ({type(error).__name__}: {error})") from None
    if len(data) < 16:
        raise ValueError(f"{path!r} is not an IDX image file ({len(data)} bytes, no header)")
    magic = int.from_bytes(data[0:4], "big")
    if magic != 2051:
        raise ValueError(f"{path} is not an IDX image file (magic {magic}, expected 2051)")
    n, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    images = np.frombuffer(data, np.uint8, offset=16)
    if images.size != n * rows * cols:
        raise ValueError(f"{path}: expected {n}x{rows}x{cols} pixels, found {images.size}")
    return images.reshape(n, rows, cols)


FASHION_MNIST_FILES = {"train": "train-images-idx3-ubyte.gz", "test": "t10k-images-idx3-ubyte.gz"}


def load_fashion_mnist(split="train", data_dir=None):
    """Fashion-MNIST images of `split` ("train" or "test"), uint8 `[N, 28, 28, 1]`.

    Reads the Debian files in `data_dir` (default `$VITGAN_TF_FASHION_MNIST_DIR`,
    else `FASHION_MNIST_DIR`); downloads with `keras.datasets` when they are absent.
    """
    if split not in FASHION_MNIST_FILES:
        raise ValueError(f"fashion_mnist has splits {sorted(FASHION_MNIST_FILES)}. Received: split={split!r}")
    data_dir = data_dir or os.environ.get("VITGAN_TF_FASHION_MNIST_DIR", FASHION_MNIST_DIR)
    path = os.path.join(data_dir, FASHION_MNIST_FILES[split])
    if os.path.exists(path):
        return read_idx_images(path)[..., None]
    logger.warning(
        "%s not found (apt-get install dataset-fashion-mnist); downloading with "
        "keras.datasets.fashion_mnist", path,
    )
    import keras

    train, test = keras.datasets.fashion_mnist.load_data()
    return (train if split == "train" else test)[0][..., None]


def load_cifar10():
    """CIFAR-10 training images, uint8 `[50000, 32, 32, 3]` (downloads once)."""
    import keras

    (images, _), _ = keras.datasets.cifar10.load_data()
    return images


def load_npz(path):
    """uint8 images from a `.npz` file (`images`, `x_train` or the first array)."""
    with read_npz(path, "Dataset file") as archive:
        if not archive.files:
            raise ValueError(f"Dataset file {path!r} holds no arrays")
        key = next((k for k in ("images", "x_train") if k in archive.files), archive.files[0])
        images = archive[key]
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(
            f"Expected images [N, H, W(, C)] with N > 0 in {path!r}[{key!r}], "
            f"found shape {images.shape}"
        )
    if images.dtype != np.uint8:
        raise ValueError(f"Expected uint8 images in {path!r}[{key!r}], found {images.dtype}")
    return images
