"""Differentiable augmentation (DiffAugment) for everything D sees.

Ops (Zhao et al., arXiv 2006.10738, plus isotropic scaling as in ViTGAN):

- ``color``: brightness (add U[-0.5, 0.5)), saturation (scale the distance
  to the per-pixel channel mean by U[0, 2)), contrast (scale the distance to
  the per-image mean by U[0.5, 1.5)). Not clipped, as in the reference code
  (DiffAugment_tf.py): the result may leave [-1, 1], and every pixel keeps
  its gradient.
- ``translation``: integer shift of up to ``translation_ratio * size`` pixels
  per axis, vacated pixels set to 0.
- ``cutout``: a square of side ``cutout_ratio * size`` at a random centre
  set to 0.
- ``scaling``: isotropic zoom about the centre by a log-uniform factor in
  ``[1 / (1 + scaling_ratio), 1 + scaling_ratio]`` (bilinear, zero fill).
- ``flip``: horizontal flip (after the shift, before cutout: the ViTGAN
  authors' PyTorch DiffAugment flips inside its translation op).

Each op is applied to each image independently with probability ``p``
(identity otherwise); ``p`` may also be a dict `{op: probability}` naming
every op of the policy (the authors' code: color and translation 0.8, flip
0.45, cutout 0.3). Images are float NHWC in [-1, 1]. Randomness comes
only from a `keras.random.SeedGenerator` (or an int seed): same seed, same
augmentation. Sampling the parameters is separate from applying them
(`sample_params` / `apply_params`) so a distributed train step can draw
the parameters of the global batch and apply its replica's slice.

Example:

>>> seed = keras.random.SeedGenerator(0)
>>> augmented = diff_augment(images, seed, policy="color,translation,cutout")

Reference:
    Zhao et al., "Differentiable Augmentation for Data-Efficient GAN
    Training", arXiv 2006.10738; Lee et al., ViTGAN, arXiv 2107.04589, 5.
"""

import math

import keras
from keras import ops

OPS = ("color", "translation", "cutout", "scaling", "flip")
DEFAULT_POLICY = "color,translation,cutout,scaling"


def parse_policy(policy):
    """`"color,translation"` (or a list) -> tuple of op names, checked."""
    if policy is None:
        return ()
    names = policy.split(",") if isinstance(policy, str) else list(policy)
    names = tuple(n.strip() for n in names if n.strip())
    unknown = [n for n in names if n not in OPS]
    if unknown:
        raise ValueError(
            f"Unknown DiffAugment op(s) {unknown} in policy={policy!r}. Choices: {OPS}"
        )
    return names


def _check_probability(p, policy=None):
    """Checks a probability in [0, 1], or a dict {op: probability} naming every op of `policy`."""
    if isinstance(p, dict):
        names = parse_policy(policy)
        unknown = sorted(set(p) - set(OPS))
        missing = [n for n in names if n not in p]
        if unknown or missing:
            raise ValueError(f"Augmentation probabilities {p} must name known ops {OPS} and every "
                             f"op of the policy {names} (missing: {missing}, unknown: {unknown})")
        for value in p.values():
            _check_probability(value)
        return
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"Expected augmentation probability `p` in [0, 1]. Received: p={p!r}")


def _probability(p, op):
    return float(p[op] if isinstance(p, dict) else p)


def _gate(batch_size, p, seed):
    """1.0 where the op applies (probability p), else 0.0; `[batch]`."""
    if p >= 1.0:
        return ops.ones((batch_size,), "float32")
    return ops.cast(keras.random.uniform((batch_size,), seed=seed) < p, "float32")


def sample_params(
    batch_size,
    image_size,
    seed,
    policy=DEFAULT_POLICY,
    p=0.8,
    translation_ratio=0.125,
    cutout_ratio=0.5,
    scaling_ratio=0.2,
):
    """Draws per-image augmentation parameters; a dict of `[batch, ...]` float32.

    Args:
        batch_size: int. Number of images.
        image_size: int. Height = width of the images.
        seed: `keras.random.SeedGenerator` or int.
        policy: str or list, default `"color,translation,cutout,scaling"`.
        p: float in [0, 1], default 0.8, or a dict {op: probability}.
            Probability of each op per image.
        translation_ratio: float, default 0.125. Max shift / size.
        cutout_ratio: float, default 0.5. Cutout side / size.
        scaling_ratio: float, default 0.2. Max zoom factor - 1.

    Returns:
        dict with the keys of the ops in `policy` (identity values where an
        op is not applied): `brightness`, `saturation`, `contrast` `[B]`;
        `shift` `[B, 2]` (rows, cols; integer-valued); `cutout_start`
        `[B, 2]`, `cutout_size` `[B]`; `scale` `[B]`; `flip` `[B]` (1: flipped).
    """
    names = parse_policy(policy)
    _check_probability(p, policy)
    params = {}
    b = batch_size
    if "color" in names:
        pc = _probability(p, "color")
        params["brightness"] = _gate(b, pc, seed) * (keras.random.uniform((b,), seed=seed) - 0.5)
        gate = _gate(b, pc, seed)
        params["saturation"] = 1.0 + gate * (keras.random.uniform((b,), 0.0, 2.0, seed=seed) - 1.0)
        gate = _gate(b, pc, seed)
        params["contrast"] = 1.0 + gate * (keras.random.uniform((b,), 0.5, 1.5, seed=seed) - 1.0)
    if "scaling" in names:
        log_max = math.log1p(scaling_ratio)
        log_scale = keras.random.uniform((b,), -log_max, log_max, seed=seed)
        params["scale"] = ops.exp(_gate(b, _probability(p, "scaling"), seed) * log_scale)
    if "translation" in names:
        shift = int(image_size * translation_ratio + 0.5)
        offsets = keras.random.randint((b, 2), -shift, shift + 1, seed=seed)
        gate = _gate(b, _probability(p, "translation"), seed)
        params["shift"] = gate[:, None] * ops.cast(offsets, "float32")
    if "flip" in names:
        params["flip"] = _gate(b, _probability(p, "flip"), seed)
    if "cutout" in names:
        size = int(image_size * cutout_ratio + 0.5)
        centre = keras.random.randint((b, 2), 0, image_size + (1 - size % 2), seed=seed)
        params["cutout_start"] = ops.cast(centre - size // 2, "float32")
        params["cutout_size"] = _gate(b, _probability(p, "cutout"), seed) * size
    return params


def slice_params(params, start, size):
    """The parameters of images `[start, start + size)` of the batch."""
    return {
        key: ops.slice(value, (start,) + (0,) * (len(value.shape) - 1),
                       (size,) + tuple(value.shape[1:]))
        for key, value in params.items()
    }


def apply_params(images, params):
    """Applies parameters from `sample_params` to `images` `[B, H, W, C]`."""
    x = images
    if "brightness" in params:
        x = _apply_color(x, params["brightness"], params["saturation"], params["contrast"])
    if "scale" in params or "shift" in params:
        batch = ops.shape(x)[0]
        scale = params.get("scale", ops.ones((batch,), "float32"))
        shift = params.get("shift", ops.zeros((batch, 2), "float32"))
        x = _apply_affine(x, scale, shift)
    if "flip" in params:
        flipped = ops.cast(params["flip"], x.dtype)[:, None, None, None]
        x = x + flipped * (ops.flip(x, axis=2) - x)
    if "cutout_size" in params:
        x = _apply_cutout(x, params["cutout_start"], params["cutout_size"])
    return x


def diff_augment(images, seed, policy=DEFAULT_POLICY, p=0.8, **ratios):
    """DiffAugment: samples parameters for `images` and applies them.

    Args:
        images: float tensor `[B, H, W, C]` in [-1, 1].
        seed: `keras.random.SeedGenerator` or int.
        policy: str or list of ops, default all of `OPS`.
        p: float, default 0.8. Probability of each op per image.
        **ratios: `translation_ratio`, `cutout_ratio`, `scaling_ratio`.
    """
    params = sample_params(ops.shape(images)[0], images.shape[1], seed, policy, p, **ratios)
    return apply_params(images, params)


# === Single ops (each draws its own parameters) ===


def brightness(images, seed, p=1.0):
    """Adds U[-0.5, 0.5) per image (not clipped)."""
    b = ops.shape(images)[0]
    delta = _gate(b, p, seed) * (keras.random.uniform((b,), seed=seed) - 0.5)
    ones = ops.ones((b,), "float32")
    return _apply_color(images, delta, ones, ones)


def saturation(images, seed, p=1.0):
    """Scales each pixel's distance to its channel mean by U[0, 2)."""
    b = ops.shape(images)[0]
    factor = 1.0 + _gate(b, p, seed) * (keras.random.uniform((b,), 0.0, 2.0, seed=seed) - 1.0)
    return _apply_color(images, ops.zeros((b,), "float32"), factor, ops.ones((b,), "float32"))


def contrast(images, seed, p=1.0):
    """Scales the distance to the image mean by U[0.5, 1.5)."""
    b = ops.shape(images)[0]
    factor = 1.0 + _gate(b, p, seed) * (keras.random.uniform((b,), 0.5, 1.5, seed=seed) - 1.0)
    ones = ops.ones((b,), "float32")
    return _apply_color(images, ops.zeros((b,), "float32"), ones, factor)


def translation(images, seed, ratio=0.125, p=1.0):
    """Shifts each image by up to `ratio * size` pixels per axis; zero fill."""
    params = sample_params(ops.shape(images)[0], images.shape[1], seed, "translation", p,
                           translation_ratio=ratio)
    return apply_params(images, params)


def cutout(images, seed, ratio=0.5, p=1.0):
    """Sets a random `ratio * size` square of each image to 0."""
    params = sample_params(ops.shape(images)[0], images.shape[1], seed, "cutout", p,
                           cutout_ratio=ratio)
    return apply_params(images, params)


def scaling(images, seed, ratio=0.2, p=1.0):
    """Zooms each image about its centre by a factor in [1/(1+ratio), 1+ratio]."""
    params = sample_params(ops.shape(images)[0], images.shape[1], seed, "scaling", p,
                           scaling_ratio=ratio)
    return apply_params(images, params)


# === Implementations ===


def _apply_color(x, brightness_delta, saturation_factor, contrast_factor):
    dtype = x.dtype
    x = ops.cast(x, "float32")
    x = x + brightness_delta[:, None, None, None]
    mean = ops.mean(x, axis=-1, keepdims=True)
    x = (x - mean) * saturation_factor[:, None, None, None] + mean
    mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
    x = (x - mean) * contrast_factor[:, None, None, None] + mean
    return ops.cast(x, dtype)


def _interpolation_matrix(source, size):
    """Bilinear weights `[B, size_out, size]` sampling rows at float `source` `[B, n]`.

    Out-of-range source pixels contribute 0 (zero fill).
    """
    lower = ops.floor(source)
    frac = source - lower
    lower = ops.cast(lower, "int32")
    matrix = 0.0
    for index, weight in ((lower, 1.0 - frac), (lower + 1, frac)):
        valid = ops.cast((index >= 0) & (index < size), "float32")
        one_hot = ops.one_hot(ops.clip(index, 0, size - 1), size, dtype="float32")
        matrix = matrix + one_hot * (weight * valid)[..., None]
    return matrix


def _apply_affine(x, scale, shift):
    """Zoom by `scale` `[B]` about the centre, then shift by `shift` `[B, 2]`."""
    dtype = x.dtype
    x = ops.cast(x, "float32")
    height, width = x.shape[1], x.shape[2]
    matrices = []
    for axis_size, axis_shift in ((height, shift[:, 0]), (width, shift[:, 1])):
        grid = ops.arange(axis_size, dtype="float32")[None, :]  # [1, n]
        centre = axis_size / 2.0
        moved = grid - axis_shift[:, None]  # output i reads input i - shift
        source = (moved + 0.5 - centre) / scale[:, None] + centre - 0.5  # [B, n]
        matrices.append(_interpolation_matrix(source, axis_size))
    rows, cols = matrices  # [B, H, H], [B, W, W]
    x = ops.einsum("bik,bkwc->biwc", rows, x)
    x = ops.einsum("bjl,bilc->bijc", cols, x)
    return ops.cast(x, dtype)


def _apply_cutout(x, start, size):
    """Zeroes rows [start_r, start_r + size) x cols [start_c, start_c + size)."""
    height, width = x.shape[1], x.shape[2]
    inside = []
    for axis_size, axis_start in ((height, start[:, 0]), (width, start[:, 1])):
        grid = ops.arange(axis_size, dtype="float32")[None, :]
        inside.append(
            ops.cast((grid >= axis_start[:, None]) & (grid < (axis_start + size)[:, None]),
                     "float32")
        )
    mask = 1.0 - inside[0][:, :, None, None] * inside[1][:, None, :, None]  # [B, H, W, 1]
    return x * ops.cast(mask, x.dtype)
