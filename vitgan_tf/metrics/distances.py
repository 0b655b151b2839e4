"""FID, KID and Inception Score from classifier outputs, TF-GAN's definitions.

The formulas and function names follow `tensorflow_gan/python/eval/
classifier_metrics.py` (TF-GAN 2.1.0), which no longer imports on TF >= 2.16.
All heavy linear algebra runs in TensorFlow in float64; numpy only carries
arrays in and out (numpy's BLAS is deliberately slow on the project machines).

Differences from TF-GAN, none of which changes a value beyond round-off:
- `_symmetric_matrix_square_root` uses `eigh` instead of `svd`. For a symmetric
  matrix with eigen-decomposition Q diag(l) Q^T, TF-GAN's
  U diag(f(s)) V^T with s = |l| equals Q diag(sign(l) f(|l|)) Q^T, where
  f(s) = s if s < eps else sqrt(s). We compute exactly that (2x faster).
- `trace_sqrt_product` needs only the trace of the second square root, so it
  uses the eigenvalues alone: trace = sum(sign(l) f(|l|)).
- Results are float64 scalars (TF-GAN casts back to the input dtype).
- Statistics can be accumulated batch by batch with `RunningStatistics`, so the
  activations of 50k images never sit in memory at once.

Reference:
  Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a
  Local Nash Equilibrium", arXiv 1706.08500 (FID).
  Binkowski et al., "Demystifying MMD GANs", arXiv 1801.01401 (KID).
  Salimans et al., "Improved Techniques for Training GANs", arXiv 1606.03498 (IS).
"""

import math
import warnings

import numpy as np
import tensorflow as tf

__all__ = [
    "RunningStatistics",
    "classifier_score_from_logits",
    "frechet_classifier_distance_from_activations",
    "frechet_distance_from_statistics",
    "kernel_classifier_distance_and_std_from_activations",
    "kernel_classifier_distance_from_activations",
    "trace_sqrt_product",
]


def _check_matrix(x, name):
    """Returns `x` as a rank-2 numeric tensor with at least one row (dtype kept)."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank != 2:
        raise ValueError(
            f"Expected `{name}` of rank 2 [num_samples, num_features]. "
            f"Received: {name}.shape={tuple(x.shape)}"
        )
    if not (x.dtype.is_floating or x.dtype.is_integer):
        raise ValueError(f"Expected `{name}` to be numeric. Received: dtype={x.dtype.name}")
    if x.shape[0] == 0:
        raise ValueError(f"`{name}` is empty: received shape {tuple(x.shape)}.")
    return x


def _as_matrix(x, name):
    """`_check_matrix`, then cast to float64."""
    return tf.cast(_check_matrix(x, name), tf.float64)


def _warn_if_singular(count, dim, name):
    if count <= dim:
        warnings.warn(
            f"{name} has {count} samples for {dim} features: its covariance is "
            "singular (rank < dimension), so the FID is dominated by estimation "
            "error. Use more samples than features (>= 2048 for Inception pool_3; "
            "FID is normally reported on 10k-50k).",
            RuntimeWarning,
            stacklevel=3,
        )


class RunningStatistics:
    """Streaming mean and covariance of activations, in float64.

    Batches are merged with Chan et al.'s pairwise update (mean and centred
    scatter matrix), which is numerically stable for features whose mean is
    large compared with their spread. Memory is O(dim^2) whatever the number
    of samples.

    Args:
        dim: int or None, default None. Number of features; taken from the
            first batch when None.

    Example:
    >>> stats = RunningStatistics()
    >>> for batch in batches:                 # each [b, 2048]
    ...     stats.update(batch)
    >>> mu, sigma = stats.mean, stats.covariance

    Reference:
        Chan, Golub, LeVeque, "Updating formulae and a pairwise algorithm for
        computing sample variances" (1979).
    """

    def __init__(self, dim=None):
        if dim is not None and (not isinstance(dim, int) or dim <= 0):
            raise ValueError(f"Expected `dim` to be a positive int or None. Received: dim={dim!r}")
        self.dim = dim
        self._count = 0
        self._mean = None  # [dim] float64
        self._scatter = None  # [dim, dim] float64, sum of centred outer products

    @property
    def count(self):
        """Number of samples seen so far."""
        return self._count

    @property
    def mean(self):
        """Mean as a float64 numpy array [dim]."""
        self._check_count(1)
        return self._mean.numpy()

    @property
    def covariance(self):
        """Unbiased covariance (divides by count - 1), float64 numpy [dim, dim]."""
        self._check_count(2)
        return (self._scatter / (self._count - 1)).numpy()

    def _check_count(self, needed):
        if self._count < needed:
            raise ValueError(
                f"RunningStatistics needs at least {needed} sample(s); it has seen {self._count}."
            )

    def update(self, batch):
        """Adds a batch of activations [batch, dim]; returns self."""
        batch = _as_matrix(batch, "batch")
        n_b, dim = batch.shape
        if self.dim is None:
            self.dim = dim
        elif dim != self.dim:
            raise ValueError(
                f"Expected batches with {self.dim} features. Received: batch.shape={tuple(batch.shape)}"
            )
        mean_b = tf.reduce_mean(batch, axis=0)
        centred = batch - mean_b
        scatter_b = tf.matmul(centred, centred, transpose_a=True)
        self._merge(n_b, mean_b, scatter_b)
        return self

    def merge(self, other):
        """Merges another `RunningStatistics` into this one; returns self."""
        if not isinstance(other, RunningStatistics):
            raise TypeError(f"Expected a RunningStatistics. Received: {type(other).__name__}")
        if other.count == 0:
            return self
        if self.dim is not None and other.dim != self.dim:
            raise ValueError(f"Cannot merge statistics of dim {other.dim} into dim {self.dim}.")
        self.dim = other.dim
        self._merge(other._count, other._mean, other._scatter)
        return self

    def _merge(self, n_b, mean_b, scatter_b):
        if self._count == 0:
            self._count, self._mean, self._scatter = n_b, mean_b, scatter_b
            return
        n_a = self._count
        total = n_a + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / total)
        self._scatter = (
            self._scatter + scatter_b + tf.tensordot(delta, delta, axes=0) * (n_a * n_b / total)
        )
        self._count = total

    def to_dict(self):
        """Returns {"mean", "covariance", "count"} as numpy values."""
        return {"mean": self.mean, "covariance": self.covariance, "count": np.int64(self._count)}

    @classmethod
    def from_moments(cls, mean, covariance, count):
        """Rebuilds statistics from a mean [d], unbiased covariance [d, d] and count."""
        mean = tf.constant(np.asarray(mean, np.float64))
        covariance = tf.constant(np.asarray(covariance, np.float64))
        count = int(count)
        if mean.shape.rank != 1 or tuple(covariance.shape) != (mean.shape[0],) * 2:
            raise ValueError(
                f"Expected mean [d] and covariance [d, d]. Received: {tuple(mean.shape)} and {tuple(covariance.shape)}"
            )
        if count < 2:
            raise ValueError(f"Expected `count` >= 2. Received: count={count}")
        stats = cls(dim=int(mean.shape[0]))
        stats._count, stats._mean, stats._scatter = count, mean, covariance * (count - 1)
        return stats

    @classmethod
    def from_activations(cls, activations, batch_size=4096):
        """Statistics of an in-memory [n, dim] array, computed in chunks."""
        activations = _check_matrix(activations, "activations")
        stats = cls()
        n = int(activations.shape[0])
        for start in range(0, n, batch_size):
            stats.update(activations[start : start + batch_size])
        return stats


def _symmetric_matrix_square_root(mat, eps=1e-10):
    """TF-GAN's symmetric matrix square root, computed with `eigh`.

    Args:
        mat: float64 symmetric matrix [d, d].
        eps: float, default 1e-10. Singular values below it are not square
            rooted (TF-GAN's guard against instability near 0).

    Returns:
        float64 [d, d] matrix equal to TF-GAN's SVD-based result.
    """
    evals, evecs = tf.linalg.eigh(mat)
    s = tf.abs(evals)
    si = tf.where(s < eps, s, tf.sqrt(s)) * tf.sign(evals)
    return tf.matmul(evecs * si[tf.newaxis, :], evecs, transpose_b=True)


def trace_sqrt_product(sigma, sigma_v):
    """Trace of the positive square root of sigma @ sigma_v (TF-GAN's trick).

    With A = sqrt(sigma), trace(sqrt(sigma sigma_v)) = trace(sqrt(A sigma_v A))
    and A sigma_v A is symmetric, so only symmetric square roots are needed.

    Args:
        sigma: symmetric PSD matrix [d, d].
        sigma_v: symmetric PSD matrix [d, d].

    Returns:
        float64 scalar tensor.

    Reference:
        TF-GAN `classifier_metrics.trace_sqrt_product`.
    """
    sigma = tf.cast(sigma, tf.float64)
    sigma_v = tf.cast(sigma_v, tf.float64)
    sqrt_sigma = _symmetric_matrix_square_root(sigma)
    sqrt_a_sigmav_a = tf.matmul(sqrt_sigma, tf.matmul(sigma_v, sqrt_sigma))
    # Symmetrise against round-off before eigvalsh (it reads one triangle only).
    sqrt_a_sigmav_a = 0.5 * (sqrt_a_sigmav_a + tf.transpose(sqrt_a_sigmav_a))
    evals = tf.linalg.eigvalsh(sqrt_a_sigmav_a)
    s = tf.abs(evals)
    return tf.reduce_sum(tf.where(s < 1e-10, s, tf.sqrt(s)) * tf.sign(evals))


def frechet_distance_from_statistics(mu1, sigma1, mu2, sigma2):
    """Frechet distance between two Gaussians given their mean and covariance.

    |mu1 - mu2|^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))

    Args:
        mu1: mean [d].
        sigma1: covariance [d, d].
        mu2: mean [d].
        sigma2: covariance [d, d].

    Returns:
        float64 scalar tensor.

    Reference:
        Heusel et al., arXiv 1706.08500; TF-GAN `_calculate_fid`.
    """
    mu1 = tf.cast(tf.convert_to_tensor(mu1), tf.float64)
    mu2 = tf.cast(tf.convert_to_tensor(mu2), tf.float64)
    sigma1 = tf.cast(tf.convert_to_tensor(sigma1), tf.float64)
    sigma2 = tf.cast(tf.convert_to_tensor(sigma2), tf.float64)
    if mu1.shape.rank != 1 or mu1.shape != mu2.shape:
        raise ValueError(
            f"Expected two means of the same shape [d]. Received: {tuple(mu1.shape)} and {tuple(mu2.shape)}"
        )
    d = mu1.shape[0]
    for name, s in (("sigma1", sigma1), ("sigma2", sigma2)):
        if tuple(s.shape) != (d, d):
            raise ValueError(f"Expected `{name}` of shape {(d, d)}. Received: {tuple(s.shape)}")
    sqrt_trace_component = trace_sqrt_product(sigma1, sigma2)
    trace = tf.linalg.trace(sigma1 + sigma2) - 2.0 * sqrt_trace_component
    mean = tf.reduce_sum(tf.math.squared_difference(mu1, mu2))
    return trace + mean


def frechet_classifier_distance_from_activations(activations1, activations2):
    """Frechet (Inception) distance between two sets of activations.

    Same definition as TF-GAN: unbiased (n - 1) covariances, float64 maths.
    Inputs may also be `RunningStatistics` (streamed activations).

    Args:
        activations1: [n1, d] array or tensor, or `RunningStatistics`.
        activations2: [n2, d] array or tensor, or `RunningStatistics`.

    Returns:
        float64 scalar tensor.

    Example:
    >>> fid = frechet_classifier_distance_from_activations(real_feats, fake_feats)

    Reference:
        TF-GAN `tfgan.eval.frechet_classifier_distance_from_activations`.
    """
    stats = []
    for i, acts in enumerate((activations1, activations2), start=1):
        if not isinstance(acts, RunningStatistics):
            acts = RunningStatistics.from_activations(_check_matrix(acts, f"activations{i}"))
        if acts.count < 2:
            raise ValueError(f"activations{i} needs at least 2 samples for a covariance; got {acts.count}.")
        _warn_if_singular(acts.count, acts.dim, f"activations{i}")
        stats.append(acts)
    if stats[0].dim != stats[1].dim:
        raise ValueError(
            f"Activations differ in feature size: {stats[0].dim} vs {stats[1].dim}."
        )
    return frechet_distance_from_statistics(
        stats[0].mean, stats[0].covariance, stats[1].mean, stats[1].covariance
    )


def kernel_classifier_distance_and_std_from_activations(
    activations1, activations2, max_block_size=1024, dtype=tf.float64
):
    """KID (cubic polynomial kernel MMD^2, block estimator) and its std error.

    Same estimator as TF-GAN: samples are split into ceil(max(n1, n2) /
    max_block_size) blocks of near-equal size; the unbiased MMD^2 of each
    block pair is averaged; the std error is std(blocks) / sqrt(num_blocks)
    (NaN for one block). Assumes both sets are in random order.

    Args:
        activations1: [n1, d] array or tensor.
        activations2: [n2, d] array or tensor.
        max_block_size: int, default 1024. Largest block size.
        dtype: tf dtype, default tf.float64. Precision of the computation
            (TF-GAN's default is the activations' dtype; float64 avoids
            cancellation in the kernel sums).

    Returns:
        (kid, std) float64 scalar tensors.

    Reference:
        Binkowski et al., arXiv 1801.01401; TF-GAN
        `kernel_classifier_distance_and_std_from_activations`.
    """
    if not isinstance(max_block_size, int) or max_block_size < 2:
        raise ValueError(f"Expected `max_block_size` >= 2. Received: max_block_size={max_block_size!r}")
    a1 = tf.cast(_as_matrix(activations1, "activations1"), dtype)
    a2 = tf.cast(_as_matrix(activations2, "activations2"), dtype)
    if a1.shape[1] != a2.shape[1]:
        raise ValueError(
            f"Activations differ in feature size: {a1.shape[1]} vs {a2.shape[1]}."
        )
    n_r, n_g = int(a1.shape[0]), int(a2.shape[0])
    n_blocks = int(math.ceil(max(n_r, n_g) / max_block_size))
    if min(n_r, n_g) < 2 * n_blocks:
        raise ValueError(
            f"KID needs at least 2 samples per block in each set: {n_r} and {n_g} "
            f"samples for {n_blocks} block(s) of at most {max_block_size}."
        )
    dim = tf.cast(a1.shape[1], dtype)

    def block_bounds(n):
        v, extra = divmod(n, n_blocks)
        sizes = [v] * (n_blocks - extra) + [v + 1] * extra
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        return bounds

    inds_r, inds_g = block_bounds(n_r), block_bounds(n_g)
    ests = []
    for i in range(n_blocks):
        r = a1[inds_r[i] : inds_r[i + 1]]
        g = a2[inds_g[i] : inds_g[i + 1]]
        m = tf.cast(tf.shape(r)[0], dtype)
        n = tf.cast(tf.shape(g)[0], dtype)
        k_rr = (tf.matmul(r, r, transpose_b=True) / dim + 1) ** 3
        k_rg = (tf.matmul(r, g, transpose_b=True) / dim + 1) ** 3
        k_gg = (tf.matmul(g, g, transpose_b=True) / dim + 1) ** 3
        ests.append(
            -2 * tf.reduce_mean(k_rg)
            + (tf.reduce_sum(k_rr) - tf.linalg.trace(k_rr)) / (m * (m - 1))
            + (tf.reduce_sum(k_gg) - tf.linalg.trace(k_gg)) / (n * (n - 1))
        )
    ests = tf.stack(ests)
    mn = tf.reduce_mean(ests)
    if n_blocks <= 1:
        var = tf.constant(float("nan"), dtype=dtype)
    else:
        var = tf.reduce_sum(tf.square(ests - mn)) / (n_blocks - 1)
    return mn, tf.sqrt(var / n_blocks)


def kernel_classifier_distance_from_activations(
    activations1, activations2, max_block_size=1024, dtype=tf.float64
):
    """KID between two sets of activations (see the `_and_std` variant).

    Args:
        activations1: [n1, d] array or tensor.
        activations2: [n2, d] array or tensor.
        max_block_size: int, default 1024.
        dtype: tf dtype, default tf.float64.

    Returns:
        float64 scalar tensor.

    Reference:
        TF-GAN `tfgan.eval.kernel_classifier_distance_from_activations`.
    """
    return kernel_classifier_distance_and_std_from_activations(
        activations1, activations2, max_block_size, dtype
    )[0]


def classifier_score_from_logits(logits):
    """Inception Score exp(E_x KL(p(y|x) || p(y))) from logits, in float64.

    Args:
        logits: [n, num_classes] array or tensor (1008 for the 2015 Inception
            graph).

    Returns:
        float64 scalar tensor.

    Reference:
        Salimans et al., arXiv 1606.03498; TF-GAN
        `tfgan.eval.classifier_score_from_logits`.
    """
    logits = _as_matrix(logits, "logits")
    log_p = tf.nn.log_softmax(logits)
    p = tf.exp(log_p)
    q = tf.reduce_mean(p, axis=0)
    kl = tf.reduce_sum(p * (log_p - tf.math.log(q)), axis=1)
    return tf.exp(tf.reduce_mean(kl))
