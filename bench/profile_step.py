"""Where one training step's time goes: TensorFlow's profiler, summed by op type and scope.

    python bench/profile_step.py                                  # fashion_mnist recipe, full
    python bench/profile_step.py --source preset:cifar10 --mode minimal --top 25

Builds the step as bench/train_step.py does (same sources, modes, compile
modes), runs `--warmup` steps, then traces `--steps` steps with
`tf.profiler.experimental` and reads the trace (`*.xplane.pb`, TensorFlow's
own protobuf) back. Prints ms per step of the kernels, by op type and by
layer scope (block numbers merged), summed over the threads that ran them:
with 2 cores the sums can exceed the step's wall time. Under XLA the
kernels are XLA's fusions and dots.
"""

import argparse
import collections
import glob
import os
import re
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import vitgan_tf  # noqa: E402,F401,I001  (first: TensorFlow's start-up notices stay quiet)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

from train_step import COMPILE, MODES, build  # noqa: E402
from vitgan_tf import limits  # noqa: E402
from vitgan_tf import machine  # noqa: E402


def kernel_times(trace_dir, steps):
    """{(op type, scope): ms per step} of the kernels in a profiler trace folder."""
    paths = glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True)
    if not paths:
        raise FileNotFoundError(f"no *.xplane.pb under {trace_dir}")
    space = xplane_pb2.XSpace()
    with open(paths[0], "rb") as f:
        space.ParseFromString(f.read())
    times = collections.Counter()
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            if line.name == "python":
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if "::" in name:  # executor and thread-pool spans around the kernels
                    continue
                if ":" in name:  # TF kernels: "scope/op_name:OpType"
                    scope, op_type = name.rsplit(":", 1)
                elif "." in name:  # XLA kernels: "multiply_fusion.12", "MatMul_1.236"
                    scope, op_type = "xla", re.sub(r"_\d+$", "", re.sub(r"\.\d+$", "", name))
                else:
                    continue
                scope = re.sub(r"_\d+\b", "", re.sub(r"block_\d+", "block_N", scope))
                scope = "/".join(scope.split("/")[:3])
                times[(op_type, scope)] += event.duration_ps / 1e9 / steps
    return times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default="recipe:fashion_mnist", help="preset:NAME or recipe:NAME")
    p.add_argument("--mode", default="full", choices=sorted(MODES))
    p.add_argument("--compile", default="function", choices=[c for c in COMPILE if c != "eager"])
    p.add_argument("--batch-size", type=limits.int_arg(1, limits.MAX_BATCH_SIZE), default=32)
    p.add_argument("--warmup", type=limits.int_arg(0, 10**4), default=3)
    p.add_argument("--steps", type=limits.int_arg(1, 10**4), default=5)
    p.add_argument("--top", type=limits.int_arg(1, 10**4), default=15, help="rows per table")
    args = p.parse_args(argv)
    if min(args.batch_size, args.warmup, args.steps, args.top) <= 0:
        p.error("--batch-size, --warmup, --steps and --top must be > 0")

    keras.utils.set_random_seed(0)
    gan = build(args.source, args.batch_size, args.compile, "float32", args.mode)
    gen = gan.generator
    x = np.random.RandomState(0).uniform(
        -1, 1, (args.batch_size, gen.image_size, gen.image_size, gen.channels)).astype("float32")
    for _ in range(args.warmup):
        gan.train_on_batch(x)
    with tempfile.TemporaryDirectory() as trace_dir:
        tf.profiler.experimental.start(trace_dir)
        start = time.perf_counter()
        for _ in range(args.steps):
            gan.train_on_batch(x)
        wall_ms = 1000 * (time.perf_counter() - start) / args.steps
        tf.profiler.experimental.stop()
        times = kernel_times(trace_dir, args.steps)

    total = sum(times.values())
    print(f"# {args.source} {args.mode} {args.compile}, batch {args.batch_size}; CPU "
          f"{machine.cpu_signature()}, {os.cpu_count()} CPU(s); {wall_ms:.0f} ms per step traced "
          f"(profiling slows it), kernels {total:.0f} ms per step summed over threads")
    for title, index in (("op type", 0), ("scope", 1)):
        grouped = collections.Counter()
        for key, ms in times.items():
            grouped[key[index]] += ms
        print(f"\n| {title} | ms per step | share of kernel time |\n| --- | ---: | ---: |")
        for key, ms in grouped.most_common(args.top):
            print(f"| {key} | {ms:.1f} | {100 * ms / total:.1f}% |")
    return times


if __name__ == "__main__":
    main()
