"""Mean +- standard deviation over seeds of runs' FID / KID, as a Markdown table.

    python bench/seeds_table.py --runs dcgan docs/quality/hybrid/final25/dcgan_25_seed* \\
        --runs recipe docs/quality/hybrid/final25/recipe_25_seed*

Each `--runs LABEL DIR...` is one setting trained once per seed. The k-th
evaluation of each run (its `metrics.jsonl` records that hold `fid*` / `kid*`
values, read as `bench/plot_run.py` reads them) is taken to be at the same
point of training in every seed (the same `train.eval_every_minutes`), and
the table gives, per setting and evaluation, the mean training minutes and
steps, and each metric's mean +- sample standard deviation (ddof 1) over the
seeds, then each seed's own value. KID is shown x1000. Runs whose evaluations
differ in count or in metric names are refused.
"""

import argparse
import importlib.util
import os
import sys

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("bench_plot_run", os.path.join(_HERE, "plot_run.py"))
plot_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plot_run)


def setting_rows(label, run_dirs):
    """The table's rows of one setting: [(label, eval index, minutes, steps, {metric: values})]."""
    curves = [plot_run.read_curve(d) for d in run_dirs]
    counts = {len(c) for c in curves}
    if len(counts) != 1:
        raise ValueError(f"{label}: the runs hold different numbers of evaluations "
                         f"({', '.join(f'{d}: {len(c)}' for d, c in zip(run_dirs, curves))})")
    rows = []
    for k in range(counts.pop()):
        names = [sorted(c[k][1]) for c in curves]
        if any(n != names[0] for n in names):
            raise ValueError(f"{label}: evaluation {k + 1} names different metrics in its runs: {names}")
        minutes = np.mean([c[k][0].get("train_time", c[k][0]["time"]) / 60 for c in curves])
        steps = np.mean([c[k][0]["step"] for c in curves])
        values = {n: [c[k][1][n] * (1000 if n.startswith("kid") else 1) for c in curves]
                  for n in names[0]}
        rows.append((label, k + 1, minutes, steps, values))
    return rows


def cell(values):
    mean = float(np.mean(values))
    if len(values) == 1:
        return f"{mean:.2f}"
    return f"{mean:.2f} +- {float(np.std(values, ddof=1)):.2f}"


def markdown(rows):
    names = sorted({n for *_, values in rows for n in values})
    head = ["setting", "evaluation", "training minutes", "steps"] + [
        f"{n} x1000" if n.startswith("kid") else n for n in names] + ["per seed"]
    lines = ["| " + " | ".join(head) + " |", "| --- | ---: | ---: | ---: |" + " ---: |" * len(names) + " --- |"]
    for label, k, minutes, steps, values in rows:
        per_seed = "; ".join(
            f"{n}: " + ", ".join(f"{v:.2f}" for v in values[n]) for n in names if n in values)
        lines.append("| " + " | ".join(
            [label, str(k), f"{minutes:.1f}", f"{steps:.0f}"]
            + [cell(values[n]) if n in values else "" for n in names] + [per_seed]) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python bench/seeds_table.py", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", action="append", required=True, metavar="LABEL DIR",
                        help="a setting's label, then its run folders (one per seed)")
    args = parser.parse_args(argv)
    rows = []
    try:
        for label, *dirs in args.runs:
            if not dirs:
                raise ValueError(f"--runs {label}: give the setting's run folders after its label")
            rows += setting_rows(label, dirs)
    except (OSError, ValueError) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
