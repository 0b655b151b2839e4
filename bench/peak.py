"""The float32 matmul peak of this CPU, against which the benchmarks state their FLOP/s."""

import statistics
import time

import tensorflow as tf

PEAK_SIZES = (512, 1024, 2048, 4096)


def matmul_gflops(size, iters=5, dtype="float32"):
    """GFLOP/s of a size x size `tf.matmul` in `dtype` (median of `iters`)."""
    a = tf.cast(tf.random.normal((size, size)), dtype)
    b = tf.cast(tf.random.normal((size, size)), dtype)
    matmul = tf.function(lambda: tf.matmul(a, b))
    matmul().numpy()
    repeats = max(1, (4096 // size) ** 3 // 8)  # >= ~10 ms per timing at small sizes
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        for _ in range(repeats):
            out = matmul()
        out.numpy()
        times.append((time.perf_counter() - start) / repeats)
    return 2 * size ** 3 / statistics.median(times) / 1e9


def matmul_peak(sizes=PEAK_SIZES, dtype="float32"):
    """(peak GFLOP/s, {size: GFLOP/s}): the best `dtype` matmul rate over `sizes`."""
    rates = {size: matmul_gflops(size, dtype=dtype) for size in sizes}
    return max(rates.values()), rates
