"""Inference speed of the exported generator: Keras vs SavedModel vs TFLite variants.

    python bench/inference.py --preset cifar10 --json bench/inference_cifar10.json

Builds the preset's generator (random weights, seed 0; or `--generator FILE`
/ `--run RUN` for trained ones: speed does not depend on the weights),
exports it with `export` to a temporary folder, then times images/s at
batch 1 and 64 for:

- Keras: `tf.function(model(z, training=False))`, no gradients, float out;
- SavedModel: `serving_default` of the export (z -> uint8 images);
- TFLite float32 / float16 / int8 (dynamic range) with ai-edge-litert
  (XNNPACK, `--threads` threads), `serving_default` signature.

Each cell is the median of `--repeats` timed calls after one warm-up call;
TensorFlow's intra-op threads are also set to `--threads`. Prints a
Markdown table (and writes JSON with `--json`).

Measured tables, with their CPUs and commands: docs/performance.md
("Generator inference"). Wall time about 1.5 minutes.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import vitgan_tf  # noqa: E402,F401,I001  (first: TensorFlow's start-up notices stay quiet)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

import export  # noqa: E402
from vitgan_tf import limits  # noqa: E402
from vitgan_tf import machine  # noqa: E402
from vitgan_tf.io import check_output_arg  # noqa: E402
from vitgan_tf.models import Generator  # noqa: E402


def folder_size(path):
    """Bytes of a file, or of every file under a folder."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def time_calls(fn, z, repeats):
    """Median seconds of `fn(z)` over `repeats` calls after one warm-up."""
    fn(z)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(z)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cifar10", help="generator preset (default cifar10)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--generator", help="a .keras generator file instead of --preset")
    source.add_argument("--run", help="a training run folder (its EMA generator)")
    parser.add_argument("--batch-sizes", type=limits.int_arg(1, limits.MAX_BATCH_SIZE), nargs="+", default=[1, 64])
    parser.add_argument("--repeats", type=limits.int_arg(1, 1000), default=5, help="timed calls per cell (median)")
    parser.add_argument("--threads", type=limits.int_arg(1, limits.MAX_THREADS), default=2, help="CPU threads for TF and TFLite")
    parser.add_argument("--variants", nargs="+", default=["float32", "float16", "int8"])
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--workdir", help="keep the exports here (default: a temp folder)")
    args = parser.parse_args(argv)
    if args.json:
        check_output_arg(parser, args.json, "--json")  # before minutes of timing
    return args


def main(argv=None):
    args = parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    workdir = args.workdir or tempfile.mkdtemp(prefix="vitgan_bench_")
    try:
        return run(args, workdir)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args, workdir):
    """Exports, times every runtime, prints the table; returns 0."""
    if args.generator or args.run:
        source, _ = export.resolve_checkpoint(args.run, args.generator)
        model = export.load_generator(source)
        label = os.path.abspath(source)
    else:
        keras.utils.set_random_seed(0)
        model = Generator.from_architecture(args.preset)
        source = os.path.join(workdir, "generator.keras")
        model.save(source)
        label = f"preset {args.preset} (random weights)"
    print(f"CPU {machine.cpu_signature()}, {os.cpu_count()} CPU(s), TF {tf.__version__}")
    print(f"generator: {label}, {model.count_params() / 1e6:.2f} M params, "
          f"{model.image_size}x{model.image_size}x{model.channels}, z_dim {model.z_dim}")
    start = time.perf_counter()
    saved_model_dir = export.export_saved_model(model, workdir, "bench", 1, source=source,
                                                overwrite=True)
    tflite_paths = export.export_tflite(model, os.path.join(workdir, "tflite"), "bench", 1,
                                        variants=args.variants, source=source, overwrite=True)
    print(f"exported to {workdir} in {time.perf_counter() - start:.0f} s")

    keras_fn = tf.function(lambda z: model(z, training=False), reduce_retracing=True)
    serving = tf.saved_model.load(saved_model_dir).signatures["serving_default"]
    runtimes = [
        ("Keras (tf.function)", source, lambda z: keras_fn(tf.constant(z)).numpy()),
        ("SavedModel", saved_model_dir, lambda z: serving(z=tf.constant(z))["images"].numpy()),
    ]
    for variant, path in tflite_paths.items():
        runner = Interpreter(model_path=path, num_threads=args.threads).get_signature_runner()
        runtimes.append((f"TFLite {variant}", path, lambda z, r=runner: r(z=z)["images"]))

    rng = np.random.default_rng(0)
    rows = []
    for name, path, fn in runtimes:
        row = {"runtime": name, "file": path, "size_mb": folder_size(path) / 1e6}
        for batch in args.batch_sizes:
            z = rng.standard_normal((batch, model.z_dim)).astype(np.float32)
            seconds = time_calls(fn, z, args.repeats)
            row[f"images_per_s_b{batch}"] = batch / seconds
            row[f"ms_per_call_b{batch}"] = 1e3 * seconds
        rows.append(row)
        print(f"  {name}: done", flush=True)

    header = ["runtime", "file size (MB)"] + [f"img/s b{b}" for b in args.batch_sizes] + [
        f"ms/call b{b}" for b in args.batch_sizes]
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for row in rows:
        cells = [row["runtime"], f"{row['size_mb']:.2f}"]
        cells += [f"{row[f'images_per_s_b{b}']:.1f}" for b in args.batch_sizes]
        cells += [f"{row[f'ms_per_call_b{b}']:.1f}" for b in args.batch_sizes]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": machine.cpu_signature(), "generator": label, "threads": args.threads, "repeats": args.repeats,
                       "tensorflow": tf.__version__, "rows": rows}, f, indent=2)
            f.write("\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
