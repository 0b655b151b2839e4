"""Run an exported `.tflite` generator with ai-edge-litert: PNG grid, latency, GIF.

    python -m export.tflite_demo MODEL.tflite --num 16 --seed 0 --out grid.png \
        [--gif interp.gif] [--latents z.npy] [--threads 2]

Latents are `numpy.random.default_rng(seed).standard_normal((num, z_dim))`
(float32), or read from `--latents` (a `.npy` array `[num, z_dim]`). Each
image is generated alone (batch 1) so the printed median latency is the
on-device latency per image; the grid is the model's uint8 `images` output
tiled row-major. `--gif` writes a loop through `--gif-keys` latents joined by
spherical interpolation (slerp), `--gif-frames` frames per segment.

The interpreter is ai-edge-litert's (`tf.lite.Interpreter` is deprecated); the grid
helpers are `vitgan_tf.images`'.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from vitgan_tf.images import make_grid, save_png, to_pil
from vitgan_tf import limits
from vitgan_tf.images import grid_shape
from vitgan_tf.io import check_output_file

SIGNATURE = "serving_default"


class GeneratorRunner:
    """A `.tflite` ViTGAN generator behind the ai-edge-litert interpreter.

    Args:
        model_path: str. A `.tflite` file written by `python -m export`.
        num_threads: int, default 2. Interpreter CPU threads.

    Attributes:
        z_dim, image_shape ((H, W, C)), metadata (dict from the JSON beside
        the model, or {}).
    """

    def __init__(self, model_path, num_threads=2):
        from ai_edge_litert.interpreter import Interpreter

        self.model_path = os.fspath(model_path)
        if not os.path.isfile(self.model_path):
            raise FileNotFoundError(f"TFLite model not found: {self.model_path!r}")
        try:
            self.interpreter = Interpreter(model_path=self.model_path, num_threads=num_threads)
        except (ValueError, RuntimeError) as error:
            raise ValueError(
                f"{self.model_path!r} is not a loadable TFLite model: {error}"
            ) from error
        signatures = self.interpreter.get_signature_list()
        spec = signatures.get(SIGNATURE)
        if spec is None or spec["inputs"] != ["z"] or "images" not in spec["outputs"]:
            raise ValueError(
                f"{self.model_path!r} is not a ViTGAN generator export: expected signature "
                f"{SIGNATURE!r} with input 'z' and output 'images'; found {signatures}."
            )
        self.runner = self.interpreter.get_signature_runner(SIGNATURE)
        z_detail = self.runner.get_input_details()["z"]
        images_detail = self.runner.get_output_details()["images"]
        if len(z_detail["shape"]) != 2 or z_detail["dtype"] != np.float32:
            raise ValueError(
                f"{self.model_path!r}: input 'z' has shape {list(z_detail['shape'])} "
                f"{np.dtype(z_detail['dtype']).name}; expected [batch, z_dim] float32."
            )
        if len(images_detail["shape"]) != 4 or images_detail["dtype"] != np.uint8:
            raise ValueError(
                f"{self.model_path!r}: output 'images' has shape "
                f"{list(images_detail['shape'])} {np.dtype(images_detail['dtype']).name}; "
                "expected [batch, H, W, C] uint8."
            )
        self.z_dim = int(z_detail["shape"][1])
        self.image_shape = tuple(int(d) for d in images_detail["shape"][1:])
        meta_path = os.path.splitext(self.model_path)[0] + ".json"
        self.metadata = {}
        if os.path.isfile(meta_path):
            with open(meta_path) as f:
                self.metadata = json.load(f)

    def check_latents(self, z):
        """`z` as float32 `[n, z_dim]`; `ValueError` naming both shapes otherwise."""
        z = np.asarray(z)
        if z.ndim != 2 or z.shape[1] != self.z_dim or z.shape[0] < 1:
            raise ValueError(
                f"Wrong input shape for {self.model_path!r}: z has shape {tuple(z.shape)}, "
                f"the model expects [n, {self.z_dim}] with n >= 1."
            )
        if not np.issubdtype(z.dtype, np.floating):
            raise ValueError(
                f"Wrong input dtype for {self.model_path!r}: z is {z.dtype}, expected float32."
            )
        return z.astype(np.float32)

    def __call__(self, z):
        """uint8 images `[n, H, W, C]` for latents `z` `[n, z_dim]`."""
        return self.runner(z=self.check_latents(z))["images"]

    def generate_timed(self, z, warmup=1):
        """Generates `z` one image at a time; returns (images, seconds per image)."""
        z = self.check_latents(z)
        for _ in range(warmup):
            self.runner(z=z[:1])
        images, times = [], []
        for row in z:
            start = time.perf_counter()
            out = self.runner(z=row[None])["images"]
            times.append(time.perf_counter() - start)
            images.append(out)
        return np.concatenate(images), np.asarray(times)


def sample_latents(seed, num, z_dim):
    """`num` standard-normal float32 latents from `numpy.random.default_rng(seed)`."""
    return np.random.default_rng(seed).standard_normal((num, z_dim)).astype(np.float32)


def slerp(a, b, t):
    """Spherical interpolation between latents `a` and `b` at fraction `t`."""
    dot = np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b))
    omega = np.arccos(np.clip(dot, -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def interpolation_latents(keys, frames_per_segment):
    """A closed loop through `keys` `[k, z_dim]`: slerp, `frames_per_segment` each."""
    loop = []
    for i in range(len(keys)):
        a, b = keys[i], keys[(i + 1) % len(keys)]
        for f in range(frames_per_segment):
            loop.append(slerp(a, b, f / frames_per_segment))
    return np.stack(loop).astype(np.float32)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m export.tflite_demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("model", help="a .tflite file from `python -m export`")
    parser.add_argument("--num", type=int, default=16, help="images in the grid (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    parser.add_argument("--latents", help=".npy file of latents [n, z_dim] (replaces --num/--seed)")
    parser.add_argument("--out", default="grid.png", help="PNG grid path (default grid.png)")
    parser.add_argument("--nrow", type=int, default=None, help="images per row")
    parser.add_argument("--scale", type=int, default=1, help="upscale factor of the PNG")
    parser.add_argument("--padding", type=int, default=2, help="pixels between images")
    parser.add_argument("--gif", help="also write a latent-interpolation GIF here")
    parser.add_argument("--gif-keys", type=int, default=4, help="latents the GIF visits")
    parser.add_argument("--gif-frames", type=int, default=12, help="frames per GIF segment")
    parser.add_argument("--gif-scale", type=int, default=4, help="upscale factor of the GIF")
    parser.add_argument("--threads", type=int, default=2, help="interpreter threads")
    args = parser.parse_args(argv)
    bounds = {"num": (1, limits.MAX_GRID_IMAGES), "scale": (1, limits.MAX_SCALE),
              "padding": (0, limits.MAX_PADDING), "gif_keys": (1, 256), "gif_frames": (1, 1000),
              "gif_scale": (1, limits.MAX_SCALE), "threads": (1, limits.MAX_THREADS)}
    if args.nrow is not None:  # default: a square grid
        bounds["nrow"] = (1, limits.MAX_GRID_IMAGES)
    for flag, (low, high) in bounds.items():
        try:
            limits.check_count(f"--{flag.replace('_', '-')}", getattr(args, flag), low, high)
        except ValueError as error:
            parser.error(str(error))
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        check_output_file(args.out, "--out")
        if args.gif:
            check_output_file(args.gif, "--gif")
        runner = GeneratorRunner(args.model, num_threads=args.threads)
        if args.latents:
            z = np.load(args.latents)
            limits.check_count(f"--latents {args.latents!r}: the count of latents", len(z), 1,
                               limits.MAX_GRID_IMAGES)
        else:
            z = sample_latents(args.seed, args.num, runner.z_dim)
        h, w, c = runner.image_shape
        _, _, height, width = grid_shape(len(z), h, w, args.nrow, args.padding, args.scale)
        limits.check_output_pixels("--out", height, width, c)
        if args.gif:
            frame = (h * args.gif_scale) * (w * args.gif_scale)
            frames = args.gif_keys * args.gif_frames
            limits.check_output_pixels("--gif (one frame)", h * args.gif_scale, w * args.gif_scale, c)
            if frame * frames > limits.MAX_GIF_PIXELS:
                raise ValueError(f"--gif would hold {frames} frames of {frame:,} pixels, over the "
                                 f"{limits.MAX_GIF_PIXELS:,} bound: fewer --gif-keys or --gif-frames")
        images, seconds = runner.generate_timed(z)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    save_png(make_grid(images, args.nrow, args.padding, args.scale, pad_value=255), args.out)
    print(f"{args.model}: z_dim {runner.z_dim}, images {h}x{w}x{c}, "
          f"variant {runner.metadata.get('variant', 'unknown')}")
    print(f"median latency per image: {1e3 * np.median(seconds):.2f} ms "
          f"(batch 1, {len(seconds)} images, {args.threads} threads)")
    print(f"wrote {args.out} ({len(images)} images)")
    if args.gif:
        keys = sample_latents(args.seed + 1, args.gif_keys, runner.z_dim)
        frames = runner(interpolation_latents(keys, args.gif_frames))
        pil_frames = [to_pil(make_grid(f[None], 1, 0, args.gif_scale)) for f in frames]
        pil_frames[0].save(args.gif, save_all=True, append_images=pil_frames[1:],
                           duration=80, loop=0)
        print(f"wrote {args.gif} ({len(pil_frames)} frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
