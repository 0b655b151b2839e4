"""Input pipelines: float32 NHWC batches in [-1, 1] at the model's size.

Sources (`make_dataset(source, ...)`):

- ``"fashion_mnist"``: the Debian package `dataset-fashion-mnist` files in
  `/usr/share/datasets/fashion-mnist` (IDX, gzip) when present, else
  `keras.datasets.fashion_mnist` (downloads). 28x28x1; for a 32x32 model
  the images are padded with 2 pixels of background (-1) per side.
- ``"cifar10"``: `keras.datasets.cifar10` (downloads), training split.
- ``"tfds:NAME"`` (e.g. `tfds:celeb_a`, `tfds:lsun/bedroom`, `tfds:stl10`):
  `tensorflow_datasets` (optional dependency), streamed.
- a directory: PNG/JPEG files found recursively; unreadable files are
  skipped and counted in a warning.
- a `.npz` file: the array `images` (else `x_train`, else the first
  array), uint8 `[N, H, W]` or `[N, H, W, C]`.
- ``"synthetic"``: 512 deterministic random smooth images (tests, benchmarks).

Geometry ("auto"): an image no larger than the model's size is padded
with background (-1) to the size (Fashion-MNIST 28 -> 32); a larger one is
centre-cropped to a square and resized (bilinear, antialiased). Channels
are converted (grey -> RGB by repetition, RGB -> grey by luma).

Indexed sources (all but tfds: fashion_mnist, cifar10, synthetic and .npz
arrays in memory, image folders by file) are read by index: batch number `s`
holds images `perm_e[i * B:(i + 1) * B]` where `e, i = divmod(s, N // B)`
and `perm_e` is a stateless permutation seeded by `(seed, e)`. A run
resumed at step `s` (`start_step=s`) therefore sees exactly the batches an
uninterrupted run sees, and starts there at once.

tfds sources are streamed: the file order (`tfds.ReadConfig(shuffle_seed=seed)`,
reshuffled each epoch) and the shuffle buffer are seeded, so a resume
replays the stream from the start, decoding and dropping `start_step`
batches (`skip`). It sees the batches of an uninterrupted run (with the
same tfds and dataset versions) but is slow for a long run: its start-up
time grows with `start_step`.
"""

import logging
import os

import numpy as np
import tensorflow as tf

from vitgan_tf.sources import FASHION_MNIST_DIR  # noqa: F401  (re-exported)
from vitgan_tf.sources import FASHION_MNIST_FILES  # noqa: F401
from vitgan_tf.sources import load_cifar10
from vitgan_tf.sources import load_fashion_mnist
from vitgan_tf.sources import load_npz
from vitgan_tf.sources import read_idx_images  # noqa: F401
from vitgan_tf.images import center_padding

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
SYNTHETIC_SIZE = 512

logger = logging.getLogger(__name__)


# === Sources ===


def synthetic_images(image_size, channels, count=SYNTHETIC_SIZE, seed=0):
    """Deterministic smooth random images, uint8 `[count, size, size, channels]`."""
    rng = np.random.RandomState(seed)
    coarse = rng.uniform(0, 255, (count, 4, 4, channels)).astype("float32")
    images = tf.image.resize(coarse, (image_size, image_size), method="bilinear")
    return np.clip(np.round(images.numpy()), 0, 255).astype(np.uint8)


def list_image_files(folder):
    """Readable image files under `folder` (recursive); warns about unreadable ones."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Dataset folder not found: {folder!r}")
    from PIL import Image

    candidates = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(folder)
        for name in names
        if name.lower().endswith(IMAGE_EXTENSIONS)
    )
    readable, unreadable = [], 0
    for path in candidates:
        try:
            with Image.open(path) as image:
                image.verify()
            readable.append(path)
        except Exception:  # noqa: BLE001 - any decoding failure means skip
            unreadable += 1
    if unreadable:
        logger.warning("Skipped %d unreadable image file(s) in %s", unreadable, folder)
    if not readable:
        raise ValueError(
            f"No readable PNG/JPEG images in {folder!r} "
            f"({len(candidates)} candidate file(s), {unreadable} unreadable)"
        )
    return readable, unreadable


# === Geometry ===


def preprocess(images, image_size, channels):
    """uint8/float `[B, h, w, c]` (0..255) -> float32 `[B, size, size, channels]` in [-1, 1]."""
    x = tf.cast(images, tf.float32) / 127.5 - 1.0
    in_channels = x.shape[-1]
    if in_channels != channels:
        if in_channels == 1:
            x = tf.repeat(x, channels, axis=-1)
        elif channels == 1 and in_channels in (3, 4):
            x = tf.reduce_sum(x[..., :3] * tf.constant([0.299, 0.587, 0.114]), -1, keepdims=True)
        else:
            raise ValueError(f"Cannot convert {in_channels} channels to {channels}")
    height, width = x.shape[1], x.shape[2]
    if height <= image_size and width <= image_size:
        rows, columns = center_padding(height, width, image_size)
        x = tf.pad(x + 1.0, [[0, 0], list(rows), list(columns), [0, 0]]) - 1.0  # background -1
    else:
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        x = x[:, top:top + side, left:left + side]
        x = tf.image.resize(x, (image_size, image_size), method="bilinear", antialias=True)
    return tf.clip_by_value(x, -1.0, 1.0)


def preprocess_single(image, image_size, channels):
    """Like `preprocess` for one decoded RGB uint8 image of any (dynamic) size."""
    x = tf.cast(image, tf.float32) / 127.5 - 1.0  # [h, w, 3]
    if channels == 1:
        x = tf.reduce_sum(x * tf.constant([0.299, 0.587, 0.114]), -1, keepdims=True)
    elif channels != 3:
        raise ValueError(f"Image folders and tfds give 1 or 3 channels, not {channels}")
    height, width = tf.shape(x)[0], tf.shape(x)[1]

    def pad():
        (top, _), (left, _) = center_padding(height, width, image_size)
        return tf.image.pad_to_bounding_box(x + 1.0, top, left, image_size, image_size) - 1.0

    def crop_and_resize():
        side = tf.minimum(height, width)
        crop = tf.image.crop_to_bounding_box(x, (height - side) // 2, (width - side) // 2, side, side)
        return tf.image.resize(crop, (image_size, image_size), method="bilinear", antialias=True)

    x = tf.cond((height <= image_size) & (width <= image_size), pad, crop_and_resize)
    x = tf.ensure_shape(x, (image_size, image_size, channels))
    return tf.clip_by_value(x, -1.0, 1.0)


def _decode(path):
    return tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)


# === Pipelines ===


def _indexed_dataset(num_examples, batch_size, seed, start_step, load_batch):
    """Batches by index from a stateless per-epoch permutation (see module doc)."""
    steps_per_epoch = num_examples // batch_size
    if steps_per_epoch < 1:
        raise ValueError(
            f"The dataset has {num_examples} images, fewer than batch_size={batch_size}"
        )

    def batch_indices(step):
        epoch = step // steps_per_epoch
        position = step % steps_per_epoch
        perm = tf.random.experimental.stateless_shuffle(
            tf.range(num_examples, dtype=tf.int64), seed=tf.stack([tf.cast(seed, tf.int64), epoch])
        )
        return perm[position * batch_size:(position + 1) * batch_size]

    dataset = tf.data.Dataset.range(start_step, np.iinfo(np.int64).max)
    return dataset.map(lambda step: load_batch(batch_indices(step)),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def make_dataset(
    source,
    image_size,
    channels,
    batch_size,
    seed=0,
    start_step=0,
):
    """An infinite `tf.data.Dataset` of float32 `[batch, size, size, channels]` in [-1, 1].

    Args:
        source: str. `"fashion_mnist"`, `"cifar10"`, `"synthetic"`,
            `"tfds:NAME"`, a folder of PNG/JPEG, or a `.npz` file.
        image_size: int. The model's height = width.
        channels: int. The model's channels (1 or 3).
        batch_size: int. Global batch size (drop_remainder semantics).
        seed: int, default 0. Shuffling seed.
        start_step: int, default 0. First batch number (resume): exact and
            immediate for indexed sources, replayed by skipping for tfds
            (see module doc).

    Returns:
        A shuffled, batched, prefetched, infinite dataset with static shapes.
    """
    if int(batch_size) != batch_size or batch_size <= 0:
        raise ValueError(f"Expected a positive integer batch_size. Received: batch_size={batch_size!r}")
    if not isinstance(source, str) or not source:
        raise ValueError(f"Expected a dataset source name or path. Received: {source!r}")
    shape = (batch_size, image_size, image_size, channels)

    if source.startswith("tfds:"):
        dataset = _tfds_dataset(source[5:], image_size, channels, batch_size, seed)
        dataset = dataset.skip(start_step)  # decodes every skipped batch
    elif source.endswith(".npz") or source in ("fashion_mnist", "cifar10", "synthetic"):
        if source == "fashion_mnist":
            images = load_fashion_mnist("train")
        elif source == "cifar10":
            images = load_cifar10()
        elif source == "synthetic":
            images = synthetic_images(image_size, channels)
        else:
            images = load_npz(source)
        images = tf.constant(images)
        dataset = _indexed_dataset(
            int(images.shape[0]), batch_size, seed, start_step,
            lambda idx: preprocess(tf.gather(images, idx), image_size, channels),
        )
    elif os.path.isdir(source) or os.path.sep in source or source.startswith("."):
        files, _ = list_image_files(source)
        files = tf.constant(files)

        def load_files(idx):
            return tf.map_fn(
                lambda path: preprocess_single(_decode(path), image_size, channels),
                tf.gather(files, idx), fn_output_signature=tf.float32,
            )

        dataset = _indexed_dataset(int(files.shape[0]), batch_size, seed, start_step, load_files)
    else:
        raise ValueError(
            f"Unknown dataset source {source!r}: expected 'fashion_mnist', 'cifar10', "
            "'synthetic', 'tfds:NAME', a folder of images or a .npz file"
        )
    dataset = dataset.map(lambda x: tf.ensure_shape(x, shape))
    return dataset.prefetch(tf.data.AUTOTUNE)


def _tfds_dataset(name, image_size, channels, batch_size, seed):
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise ImportError(
            f"Source 'tfds:{name}' needs tensorflow-datasets: pip install tensorflow-datasets"
        ) from error
    # A seeded file order, new each epoch (unseeded, tfds also turns tf.data
    # determinism off and a resume could not replay the batches).
    read_config = tfds.ReadConfig(shuffle_seed=seed, shuffle_reshuffle_each_iteration=True)
    dataset = tfds.load(name, split="train", shuffle_files=True, read_config=read_config)
    dataset = dataset.map(lambda example: example["image"])
    dataset = dataset.map(
        lambda image: tf.image.grayscale_to_rgb(image) if image.shape[-1] == 1 else image
    )
    dataset = dataset.shuffle(10_000, seed=seed).repeat()
    dataset = dataset.map(
        lambda image: preprocess_single(image, image_size, channels),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return dataset.batch(batch_size, drop_remainder=True)
