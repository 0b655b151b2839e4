"""Benchmark: the LipschitzMonitor's share of training time at its interval.

    python bench/lipschitz_cost.py                 # fashion_mnist recipe
    python bench/lipschitz_cost.py --recipe cifar10 --batch-size 32

Times `ViTGAN.train_on_batch` (median of `--iters`) and one
`LipschitzMonitor.estimate()` on 16 real images (median of 5), and prints the
estimate's cost as a fraction of `every` training steps (default: the
recipe's `train.log_every`, the monitor's interval in a run).
"""

import argparse
import importlib
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from vitgan_tf import limits  # noqa: E402
from vitgan_tf import data  # noqa: E402
from vitgan_tf.training.callbacks import LipschitzMonitor  # noqa: E402
from vitgan_tf.training import run  # noqa: E402


def median_seconds(fn, iters):
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="fashion_mnist")
    parser.add_argument("--batch-size", type=limits.int_arg(1, limits.MAX_BATCH_SIZE), default=None)
    parser.add_argument("--every", type=limits.int_arg(1, limits.MAX_STEPS), default=None, help="monitor interval in steps")
    parser.add_argument("--iters", type=limits.int_arg(1, 10**6), default=20)
    args = parser.parse_args(argv)
    config = run.merge(run.base_config(), importlib.import_module(f"recipes.{args.recipe}").get_config())
    if args.batch_size:
        config["data"]["batch_size"] = args.batch_size
    every = args.every or config["train"]["log_every"]
    gan = run.build_gan(config)
    size, channels = gan.generator.image_size, gan.generator.channels
    images = next(iter(data.make_dataset(config["data"]["source"], size, channels,
                                         config["data"]["batch_size"], seed=0)))
    monitor = LipschitzMonitor(images[:run.LIPSCHITZ_BATCH], discriminator=gan.discriminator)
    for _ in range(3):  # warm-up: trace both functions
        gan.train_on_batch(images)
    monitor.estimate()
    step = median_seconds(lambda: gan.train_on_batch(images), args.iters)
    estimate = median_seconds(monitor.estimate, 5)
    print(f"{args.recipe}: train step {1000 * step:.0f} ms, Lipschitz estimate {1000 * estimate:.0f} ms, "
          f"every {every} steps -> {100 * estimate / (every * step):.2f}% of training time")


if __name__ == "__main__":
    main()
