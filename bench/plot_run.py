"""Plots a training run's FID / KID curve from its `metrics.jsonl`.

    python bench/plot_run.py runs/fashion_mnist                     # -> runs/fashion_mnist/fid_curve.png
    python bench/plot_run.py runs/fashion_mnist --out docs/fashion_mnist/fid_curve.png
    python bench/plot_run.py runs/quality/recipe_120_seed0 runs/quality/dcgan_120_seed0 --out pair.png

Reads the records that hold evaluation results (`fid*`, `kid*` keys, written
by `train.eval_every` / `train.final_eval_samples`, see `recipes/fashion_mnist.py`)
and draws FID and KID x1000 against training minutes (`train_time`, the time
spent in train steps; runs that predate it fall back to the wall-clock `time`,
which includes evaluations, and say so on the axis) and against real images
seen (`images`, else `step` x the config's batch size). Also prints the curve
as a Markdown table. Several runs: their curves in one figure, each labelled by its folder's
name (`--out` is then required), and one table per run. Needs matplotlib
(requirements-dev.txt).
"""

import argparse
import os
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from vitgan_tf.runs import RunFolder  # noqa: E402 (after the path)

METRIC = re.compile(r"^(fid|kid)(\d+k?)$")


def read_curve(run_dir):
    """[(record, {metric_name: value})] of the records that hold FID / KID values."""
    run = RunFolder(run_dir)
    batch = run.read_config()["data"]["batch_size"]
    path = run.metrics_path
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: has {run_dir!r} logged a step yet?")
    curve = []
    for record in run.read_metrics():
        metrics = {k: v for k, v in record.items() if METRIC.match(k)}
        if metrics:
            record.setdefault("images", record["step"] * batch)
            curve.append((record, metrics))
    if not curve:
        raise ValueError(f"{path} holds no FID / KID values (was train.eval_every 0?)")
    return curve


def markdown(curve):
    names = sorted({k for _, m in curve for k in m})
    clock = "train_time" if all("train_time" in r for r, _ in curve) else "time"
    head = ["step", "images", f"{clock} (min)"] + [
        f"{n} x1000" if n.startswith("kid") else n for n in names]
    lines = ["| " + " | ".join(head) + " |", "|" + " ---: |" * len(head)]
    for record, metrics in curve:
        cells = [str(record["step"]), str(record["images"]), f"{record[clock] / 60:.1f}"]
        for n in names:
            v = metrics.get(n)
            cells.append("" if v is None else f"{v * 1000:.2f}" if n.startswith("kid") else f"{v:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(curves, out, title):
    """Draws `curves` ({label: read_curve(...)}) into the PNG `out`."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    records = [r for curve in curves.values() for r, _ in curve]
    clock = "train_time" if all("train_time" in r for r in records) else "time"
    xlabels = {"train_time": "training minutes (train steps only)",
               "time": "wall-clock minutes (evaluations included)"}
    names = sorted({k for curve in curves.values() for _, m in curve for k in m})
    families = [f for f in ("fid", "kid") if any(n.startswith(f) for n in names)]
    fig, axes = plt.subplots(len(families), 2, figsize=(10, 3.4 * len(families)), squeeze=False)
    for row, family in enumerate(families):
        for col, (xkey, xlabel, scale) in enumerate(
                ((clock, xlabels[clock], 1 / 60), ("images", "real images seen (thousands)", 1e-3))):
            ax = axes[row][col]
            for label, curve in curves.items():
                for name in (n for n in names if n.startswith(family)):
                    points = [(r[xkey] * scale, m[name] * (1000 if family == "kid" else 1))
                              for r, m in curve if name in m]
                    if points:
                        ax.plot(*zip(*points), marker="o",
                                label=name if len(curves) == 1 else f"{label} {name}")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("KID x1000" if family == "kid" else "FID")
            ax.set_yscale("log")
            ax.grid(True, alpha=0.3)
            ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python bench/plot_run.py", description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="+", help="training run folders (each holds config.json and metrics.jsonl)")
    parser.add_argument("--out", help="PNG to write (default RUN/fid_curve.png; required for several runs)")
    args = parser.parse_args(argv)
    labels = [os.path.basename(os.path.normpath(run)) for run in args.run]
    if len(set(labels)) < len(labels):
        print(f"error: the runs' folder names label the curves and must differ: {labels}", file=sys.stderr)
        return 2
    if len(args.run) > 1 and not args.out:
        print("error: several runs need --out PNG", file=sys.stderr)
        return 2
    try:
        curves = {label: read_curve(run) for label, run in zip(labels, args.run, strict=True)}
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = args.out or os.path.join(args.run[0], "fid_curve.png")
    if not out.endswith(".png"):
        print(f"error: --out {out!r} must end in .png", file=sys.stderr)
        return 2
    title = f"EMA generator, {labels[0]}" if len(labels) == 1 else "FID / KID: " + " and ".join(labels)
    plot(curves, out, title)
    for label, curve in curves.items():
        if len(curves) > 1:
            print(f"\n{label}:\n")
        print(markdown(curve))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
