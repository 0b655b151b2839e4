"""Minimal real-image loaders for evaluation: uint8 numpy NHWC arrays.

Kept inside `vitgan_tf.metrics` on purpose: the training input pipelines
(tf.data) live elsewhere; evaluation only needs the raw images, presented the
way the model presets see them.

Fashion-MNIST comes from Debian's `dataset-fashion-mnist` package
(`apt-get install dataset-fashion-mnist`, files in
/usr/share/datasets/fashion-mnist/, IDX format, gzip). Its 28x28x1 images are
padded to 32x32 with background 0 (-1 in [-1, 1] space), as the
`fashion_mnist` model preset does; pass `image_size=28` for the raw images.

Reference:
    Xiao et al., "Fashion-MNIST", arXiv 1708.07747 (IDX format).
"""

from vitgan_tf import sources
from vitgan_tf.images import pad_to_size

__all__ = ["DATASETS", "load_dataset"]


def _fashion_mnist(split, image_size):
    return pad_to_size(sources.load_fashion_mnist(split), image_size or 32, background=0)


# name -> (loader(split, image_size) -> uint8 [n, h, w, c], default image size)
DATASETS = {"fashion_mnist": (_fashion_mnist, 32)}


def load_dataset(name, split, image_size=None, num_samples=None):
    """Real images of a dataset split as uint8 numpy NHWC.

    Args:
        name: str. One of `DATASETS` ("fashion_mnist").
        split: str. "train" or "test".
        image_size: int or None, default None (the preset's size: 32 for
            fashion_mnist, padded with background).
        num_samples: int or None, default None (all). The first N images.

    Returns:
        uint8 numpy array [n, image_size, image_size, channels].
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}. Known: {sorted(DATASETS)}")
    if num_samples is not None and (not isinstance(num_samples, int) or num_samples <= 0):
        raise ValueError(f"Expected `num_samples` > 0 or None. Received: num_samples={num_samples!r}")
    loader, default_size = DATASETS[name]
    images = loader(split, image_size or default_size)
    if num_samples is not None:
        if num_samples > len(images):
            raise ValueError(
                f"{name}:{split} has {len(images)} images; num_samples={num_samples} asked for more."
            )
        images = images[:num_samples]
    return images
