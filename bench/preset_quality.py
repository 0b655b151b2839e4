"""FID / KID of a generator against the truncation psi, and of its TFLite exports.

    python bench/preset_quality.py --preset vitgan_fashion_mnist --psi 0.5 0.6 0.7 0.8 0.9 1.0 \\
        --tflite exported/tflite/vitgan/1 --out docs/presets/vitgan_fashion_mnist

Not a speed benchmark: a quality measurement of what users sample. Every row is FID and KID
of `--num-samples` images (fixed latents, `--seed`) against `--real-samples` real training
images, through `vitgan_tf.metrics.evaluation.evaluate_generator`, the recipe's in-training
evaluation (the reference statistics are the same cached ones). Rows:

- `keras`, one per `--psi`: `Generator.generate(z, psi)`, the truncation trick towards G's
  running mean `w_avg` (psi 1 is the plain generator);
- with `--tflite DIR` (a `python -m export` TFLite folder): each of its `NAME_VARIANT.tflite` files
  run by ai-edge-litert on the same latents (psi 1), from its `images_float` output, so the
  evaluator quantises them as it does the Keras images.

Writes `quality.json` (the rows, the command, the CPU), `fid_vs_psi.png` (FID and KID x1000
against psi) and `samples_psi{psi}.png` (a grid of 64 samples, seed 0, per psi) into `--out`.
"""

import argparse
import glob
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from vitgan_tf import limits  # noqa: E402
from vitgan_tf.images import save_grid  # noqa: E402
from vitgan_tf.io import atomic_write_text  # noqa: E402
from vitgan_tf.machine import cpu_signature  # noqa: E402


class Sampler:
    """`evaluate_generator`'s view of one way of sampling: `z_dim` and `(z, training) -> images`."""

    def __init__(self, z_dim, sample):
        self.z_dim, self._sample = z_dim, sample

    def __call__(self, z, training=False):
        return self._sample(z)


def truncated(generator, psi):
    return Sampler(generator.z_dim, lambda z: generator.generate(z, psi))


def tflite_sampler(path, z_dim, threads=2):
    from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415

    runner = Interpreter(model_path=path, num_threads=threads).get_signature_runner("serving_default")
    return Sampler(z_dim, lambda z: runner(z=np.asarray(z, np.float32))["images_float"])


def tflite_files(folder):
    """{variant: path} of the `vitgan_*.tflite` files in a TFLite export folder."""
    files = sorted(glob.glob(os.path.join(glob.escape(folder), "*_*.tflite")))
    if not files:
        raise ValueError(f"--tflite {folder!r} holds no NAME_VARIANT.tflite file (a `python -m "
                         "export` folder such as exported/tflite/vitgan/1)")
    found = {}
    for path in files:
        variant = os.path.basename(path)[: -len(".tflite")].rsplit("_", 1)[-1]
        if variant in found:
            raise ValueError(f"--tflite {folder!r} holds two {variant} files: "
                             f"{os.path.basename(found[variant])}, {os.path.basename(path)}")
        found[variant] = path
    return found


def metric_label(key):
    """'fid1k' -> 'FID 1k', 'kid2k' -> 'KID 2k' (the evaluator's metric names)."""
    return f"{key[:3].upper()} {key[3:]}"


def plot(rows, path):
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    keras_rows = sorted((r for r in rows if r["source"] == "keras"), key=lambda r: r["psi"])
    fid_key = next(k for k in keras_rows[0] if k.startswith("fid"))
    kid_key = next(k for k in keras_rows[0] if k.startswith("kid") and not k.endswith("_std"))
    psi = [r["psi"] for r in keras_rows]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].plot(psi, [r[fid_key] for r in keras_rows], marker="o")
    axes[0].set_ylabel(metric_label(fid_key))
    axes[1].errorbar(psi, [r[kid_key] * 1000 for r in keras_rows],
                     yerr=[r.get(f"{kid_key}_std", 0) * 1000 for r in keras_rows], marker="o", capsize=3)
    axes[1].set_ylabel(f"{metric_label(kid_key)} x1000")
    for ax in axes:
        ax.set_xlabel("truncation psi")
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python bench/preset_quality.py", description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", help="a preset with weights (a built-in name or a folder)")
    src.add_argument("--generator", help="a .keras generator file")
    p.add_argument("--psi", type=limits.float_arg(0.0, 1.0, include_low=True), nargs="+", default=[1.0],
                   help="truncation values for the Keras rows (default 1)")
    p.add_argument("--tflite", help="a TFLite export folder: also score each of its files (psi 1)")
    p.add_argument("--dataset", default="fashion_mnist", help="real dataset (default fashion_mnist)")
    p.add_argument("--num-samples", type=limits.int_arg(2, 100_000), default=2000)
    p.add_argument("--real-samples", type=limits.int_arg(2, 100_000), default=10000)
    p.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    p.add_argument("--out", required=True, help="output folder (created)")
    return p.parse_args(argv)


def main(argv=None, extractor=None):
    """Scores every row; returns them. `extractor`: default the 2015 Inception."""
    args = parse_args(argv)
    from vitgan_tf.io import check_output_folder  # noqa: PLC0415
    from vitgan_tf.metrics import evaluation  # noqa: PLC0415
    from vitgan_tf.metrics.inception_weights import FEATURES_ID  # noqa: PLC0415
    from vitgan_tf.models import Generator, load_generator  # noqa: PLC0415

    tflite = tflite_files(args.tflite) if args.tflite else {}
    generator = Generator.from_preset(args.preset) if args.preset else load_generator(args.generator)
    if any(psi != 1.0 for psi in args.psi) and generator.w_avg is None:
        raise ValueError(f"{generator.name} keeps no w_avg: truncation needs it (psi 1 only)")
    check_output_folder(args.out)  # created only once the inputs are known good
    if extractor is None:
        from vitgan_tf.metrics.inception import InceptionFeatureExtractor  # noqa: PLC0415

        extractor = InceptionFeatureExtractor()
    reference = evaluation.reference_statistics(
        args.dataset, "train", image_size=generator.image_size, num_samples=args.real_samples,
        kid_samples=args.num_samples, extractor=extractor,
        cache=getattr(extractor, "features_id", None) == FEATURES_ID)
    z = np.random.default_rng(0).standard_normal((64, generator.z_dim)).astype("float32")
    samplers = [({"source": "keras", "psi": psi}, truncated(generator, psi)) for psi in args.psi]
    samplers += [({"source": f"tflite_{variant}", "psi": 1.0, "file": path},
                  tflite_sampler(path, generator.z_dim)) for variant, path in tflite.items()]
    rows = []
    for row, sampler in samplers:
        print(f"scoring {row['source']} at psi {row['psi']}", flush=True)
        row.update(evaluation.evaluate_generator(sampler, reference, extractor, args.num_samples,
                                                 kid_samples=args.num_samples, seed=args.seed))
        rows.append(row)
        print("  " + ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)), flush=True)
        if row["source"] == "keras":
            save_grid(np.asarray(sampler(z)), os.path.join(args.out, f"samples_psi{row['psi']:g}.png"))
    record = {"rows": rows, "command": "python bench/preset_quality.py " + " ".join(
                  argv if argv is not None else sys.argv[1:]),
              "source": args.preset or os.path.abspath(args.generator), "cpu": cpu_signature(),
              "num_samples": args.num_samples, "real_samples": args.real_samples}
    atomic_write_text(os.path.join(args.out, "quality.json"), json.dumps(record, indent=2) + "\n")
    if len(args.psi) > 1:
        plot(rows, os.path.join(args.out, "fid_vs_psi.png"))
    return rows


if __name__ == "__main__":
    try:
        main()
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
