"""Benchmark: images/s of one full ViTGAN training iteration.

One iteration = D step (G forward, DiffAugment, D forward/backward on
reals and fakes, + bCR's second augmentation in mode `full`) + G step
(G forward/backward through D) + EMA update (mode `full`), i.e. one
`ViTGAN.train_step`, run through `train_on_batch`.

    python bench/train_step.py                      # cifar10 preset + fashion_mnist recipe
    python bench/train_step.py --preset fashion_mnist --batch-size 64 --json out.json
    python bench/train_step.py --compile function --precision float32 --mode minimal
    python bench/train_step.py --baseline /tmp/old  # the same rows on another checkout too

Modes: `full` = the source's GAN settings (a bare preset: bCR lambda 10/10,
EMA, DiffAugment p=0.8; a recipe: its own); `minimal` = D step real + fake
with DiffAugment and G step, no bCR, no EMA. Reports the median of >= 5
timed iterations after warm-up, model GFLOP/s from vitgan_tf.models.flops
(matmul FLOPs: forward 1x, weight+input backward 2x, input-only backward
1x), the ratio to the best float32 `tf.matmul` rate over sizes 512-4096
measured in the same run, and the peak RSS of the row. Each row runs in
its own process (`--in-process` to share one), so the peak RSS is that of
one source, mode, compile mode and precision. `--baseline PATH` runs every
row also on the checkout at PATH (e.g. `git worktree add /tmp/old <rev>`),
interleaved with the current one, and prints the ratio. This machine's
step times drift by 10-15% over minutes: `--rounds N` repeats each pair N
times and reports the median round and the median per-round ratio.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# `--baseline` rows import the library of another checkout, named by this variable.
TREE = os.environ.get("VITGAN_TF_BENCH_TREE") or REPO
sys.path.insert(0, TREE)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/peak.py

import vitgan_tf  # noqa: E402,F401,I001  (first: TensorFlow's start-up notices stay quiet)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from peak import PEAK_SIZES, matmul_peak  # noqa: E402
from vitgan_tf import limits  # noqa: E402
from vitgan_tf import machine  # noqa: E402
from vitgan_tf.io import check_output_arg  # noqa: E402
from vitgan_tf.models import flops  # noqa: E402

COMPILE = ("eager", "function", "xla")
PRECISIONS = {"float32": "float32", "mixed": "mixed_float16", "mixed_float16": "mixed_float16",
              "mixed_bfloat16": "mixed_bfloat16"}
MODES = {
    "full": {},
    "minimal": {"bcr_real": 0.0, "bcr_fake": 0.0, "ema_decay": None},
}


def recipe_config(recipe, batch, precision, overrides=()):
    """The resolved config of `recipe` at `batch` (its own model and GAN settings)."""
    from recipes.train import resolve_config  # noqa: PLC0415

    sets = [f"train.precision={PRECISIONS[precision]}", *overrides]
    return resolve_config(recipe, batch_size=batch, sets=sets)


def build(source, batch, compile_mode, precision, mode, overrides=()):
    """A compiled `ViTGAN` of `source` ("preset:NAME" or "recipe:NAME") in `mode`."""
    from vitgan_tf.training import run  # noqa: PLC0415  (the run driver's own builder)

    kind, name = source.split(":", 1)
    if kind == "preset":  # the preset's models with the library's default GAN settings
        config = run.merge(run.base_config(), {"model": {"preset": name}})
    else:
        config = recipe_config(name, batch, precision, overrides)
    config["gan"].update(MODES[mode])
    config["train"]["jit_compile"] = compile_mode == "xla"
    gan = run.build_gan(config)
    if compile_mode == "eager":
        gan.compile(g_optimizer=gan.g_optimizer, d_optimizer=gan.d_optimizer, run_eagerly=True)
    return gan


def bench_one(source, batch, compile_mode, precision, mode, warmup, iters, overrides=()):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy(PRECISIONS[precision])
    try:
        gan = build(source, batch, compile_mode, precision, mode, overrides)
        gen, disc = gan.generator, gan.discriminator
        x = np.random.RandomState(0).uniform(
            -1, 1, (batch, gen.image_size, gen.image_size, gen.channels)).astype("float32")
        start = time.perf_counter()
        for _ in range(warmup):
            gan.train_on_batch(x)
        warmup_s = time.perf_counter() - start
        times = []
        for _ in range(iters):
            start = time.perf_counter()
            logs = gan.train_on_batch(x, return_dict=True)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        bcr = gan.use_bcr
        return {
            "source": source, "batch": batch, "compile": compile_mode, "precision": precision,
            "mode": mode, "overrides": list(overrides), "images_per_s": batch / median,
            "step_ms": 1000 * median, "warmup_s": warmup_s, "iters": iters,
            "model_gflop_per_image": flops.training_iteration_flops(
                gen.get_config(), disc.get_config(), 1, bcr=bcr) / 1e9,
            "gflops_per_s": flops.training_iteration_flops(
                gen.get_config(), disc.get_config(), batch, bcr=bcr) / median / 1e9,
            "finite": bool(np.all(np.isfinite(list(logs.values())))),
            "library": os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(flops.__file__)))),
        }
    finally:
        keras.mixed_precision.set_global_policy("float32")


def peak_rss_gb():
    """This process's peak resident set size so far, GB (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_row(row_args, tree=None):
    """One row (the `bench_one` kwargs) in a fresh process importing the library at `tree`."""
    env = dict(os.environ, VITGAN_TF_BENCH_TREE=tree or REPO)
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--row", json.dumps(row_args)],
                          env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"row {row_args} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def _row_main(row_json):
    row_args = json.loads(row_json)
    row_args["overrides"] = tuple(row_args.get("overrides", ()))
    row = bench_one(**row_args)
    row["peak_rss_gb"] = peak_rss_gb()
    print(json.dumps(row), flush=True)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--row"]:  # a child of `run_row`
        return _row_main(argv[1])
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--source", default="preset:cifar10,recipe:fashion_mnist",
                        help="comma list of preset:NAME (bare preset) or recipe:NAME (the "
                             "recipe's model and GAN settings)")
    parser.add_argument("--preset", help="shorthand for --source preset:NAME")
    parser.add_argument("--batch-size", default="32", help="comma list of batch sizes")
    parser.add_argument("--compile", default="function,xla", help=f"comma list of {COMPILE}")
    parser.add_argument("--precision", default="float32",
                        help=f"comma list of {sorted(PRECISIONS)}")
    parser.add_argument("--mode", default="minimal,full", help=f"comma list of {sorted(MODES)}")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="recipe config override for recipe: sources (repeatable)")
    parser.add_argument("--warmup", type=limits.int_arg(0, 10**4), default=2)
    parser.add_argument("--iters", type=limits.int_arg(1, 10**6), default=5)
    parser.add_argument("--rounds", type=limits.int_arg(1, 1000), default=1,
                        help="runs of each row (alternating with the baseline's); the median "
                             "round is reported, and the median of the per-round ratios")
    parser.add_argument("--in-process", action="store_true",
                        help="run every row in this process (peak RSS is then of all rows)")
    parser.add_argument("--baseline", metavar="PATH",
                        help="another checkout of this repository: run each row on it too")
    parser.add_argument("--peak-sizes", default=",".join(map(str, PEAK_SIZES)),
                        help="comma list of square tf.matmul sizes for the peak")
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    args = parser.parse_args(argv)
    if args.iters < 5:
        parser.error(f"--iters must be >= 5 (median of >= 5 timed iterations), got {args.iters}")
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    if args.baseline:
        if args.in_process:
            parser.error("--baseline runs rows in their own processes: drop --in-process")
        if not os.path.isfile(os.path.join(args.baseline, "vitgan_tf", "__init__.py")):
            parser.error(f"--baseline: {args.baseline!r} is not a checkout of vitgan_tf "
                         "(no vitgan_tf/__init__.py)")
    if args.json:
        check_output_arg(parser, args.json, "--json")  # before minutes of timing
    sources = [f"preset:{args.preset}"] if args.preset else args.source.split(",")
    compiles = args.compile.split(",")
    precisions = args.precision.split(",")
    modes = args.mode.split(",")
    try:
        batches = [int(b) for b in args.batch_size.split(",")]
    except ValueError:
        parser.error(f"--batch-size: expected a comma list of integers, got {args.batch_size!r}")
    for value, choices, flag in ((compiles, COMPILE, "--compile"),
                                 (precisions, PRECISIONS, "--precision"),
                                 (modes, MODES, "--mode")):
        bad = [v for v in value if v not in choices]
        if bad:
            parser.error(f"{flag}: unknown {bad}; choices {sorted(choices)}")
    for source in sources:
        kind, _, name = source.partition(":")
        if kind not in ("preset", "recipe") or not name:
            parser.error(f"--source: expected preset:NAME or recipe:NAME, got {source!r}")

    try:
        peak_sizes = [int(n) for n in args.peak_sizes.split(",")]
    except ValueError:
        parser.error(f"--peak-sizes: expected a comma list of integers, got {args.peak_sizes!r}")
    peak, rates = matmul_peak(peak_sizes)
    cpu = machine.cpu_signature()
    bf16 = machine.has_avx512_bf16()
    print(f"# CPU {cpu}, {os.cpu_count()} CPU(s), TF {tf.__version__}, Keras {keras.__version__}")
    print("# float32 tf.matmul GFLOP/s: " + ", ".join(f"{n}: {r:.1f}" for n, r in rates.items())
          + f"; peak (best) {peak:.1f}")
    bf16_peak = None
    if "mixed_bfloat16" in [PRECISIONS[p] for p in precisions]:
        bf16_peak, bf16_rates = matmul_peak(peak_sizes, dtype="bfloat16")
        print("# bfloat16 tf.matmul GFLOP/s: " + ", ".join(f"{n}: {r:.1f}" for n, r in bf16_rates.items())
              + f"; peak (best) {bf16_peak:.1f} (% peak stays against the float32 peak)")
    if args.baseline:
        print(f"# each row on the baseline {args.baseline} first, then on this checkout {REPO}")
    header = ["source", "batch", "mode", "compile", "precision", "images/s", "step ms",
              "GFLOP/s", "% peak", "peak RSS GB", "warm-up s"]
    if args.baseline:
        header[1:1] = ["code"]
        header.append("vs baseline")
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    rows = []
    trees = [("baseline", args.baseline), ("current", REPO)] if args.baseline else [("current", REPO)]
    for source in sources:
        overrides = list(args.set) if source.startswith("recipe:") else []
        for batch in batches:
            for mode in modes:
                for precision in precisions:
                    for compile_mode in compiles:
                        row_args = {"source": source, "batch": batch, "compile_mode": compile_mode,
                                    "precision": precision, "mode": mode, "warmup": args.warmup,
                                    "iters": args.iters, "overrides": overrides}
                        runs = {code: [] for code, _ in trees}
                        for _ in range(args.rounds):  # codes alternate within each round
                            for code, tree in trees:
                                if args.in_process:
                                    row = bench_one(**dict(row_args, overrides=tuple(overrides)))
                                    row["peak_rss_gb"] = peak_rss_gb()
                                else:
                                    row = run_row(row_args, tree)
                                runs[code].append(row)
                        for code, _ in trees:
                            # The median round by images/s stands for the row; RSS is the largest.
                            by_speed = sorted(runs[code], key=lambda r: r["images_per_s"])
                            row = dict(by_speed[len(by_speed) // 2])
                            row["rounds_images_per_s"] = [r["images_per_s"] for r in runs[code]]
                            row["peak_rss_gb"] = max(r["peak_rss_gb"] for r in runs[code])
                            row["code"] = code
                            row["peak_gflops_per_s"] = peak
                            row["peak_ratio"] = row["gflops_per_s"] / peak
                            rows.append(row)
                            cells = [source, batch, mode, compile_mode, precision,
                                     f"{row['images_per_s']:.1f}", f"{row['step_ms']:.0f}",
                                     f"{row['gflops_per_s']:.1f}", f"{100 * row['peak_ratio']:.1f}",
                                     f"{row['peak_rss_gb']:.2f}", f"{row['warmup_s']:.1f}"]
                            if args.baseline:
                                cells[1:1] = [code]
                                # Median over rounds of the ratio to the same round's baseline.
                                ratio = statistics.median(
                                    r["images_per_s"] / b["images_per_s"]
                                    for r, b in zip(runs[code], runs["baseline"]))
                                row["vs_baseline"] = ratio
                                cells.append(f"{ratio:.2f}x")
                            print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)
    summary = {"cpu": cpu, "avx512_bf16": bf16, "matmul_gflops_by_size": rates,
               "matmul_peak_gflops": peak, "bfloat16_matmul_peak_gflops": bf16_peak,
               "baseline": args.baseline, "rows": rows}
    if args.in_process:
        summary["peak_rss_gb_all_rows"] = peak_rss_gb()
        print(f"# peak RSS {summary['peak_rss_gb_all_rows']:.2f} GB (this process, all rows)")
    current = [r for r in rows if r["code"] == "current"]
    for source in sources:
        for mode in modes:  # per source and mode, the fastest row of the current code
            best = max((r for r in current if r["mode"] == mode and r["source"] == source),
                       key=lambda r: r["images_per_s"])
            summary.setdefault(source, {})[mode] = {
                key: best[key] for key in ("images_per_s", "batch", "compile", "precision",
                                           "model_gflop_per_image", "peak_ratio", "peak_rss_gb")}
            print(f"# {source} {mode}: best {best['images_per_s']:.1f} images/s (batch "
                  f"{best['batch']}, {best['compile']}, {best['precision']}), "
                  f"{100 * best['peak_ratio']:.1f}% of peak, peak RSS {best['peak_rss_gb']:.2f} GB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    return summary


if __name__ == "__main__":
    main()
