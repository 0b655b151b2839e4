"""`python -m recipes.ablation`: parse, check, run every (variant, seed), write the outputs.

The command's full description is the package docstring (`recipes/ablation/__init__.py`).
"""

import argparse
import json
import os
import shlex
import sys
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .plots import plot, plot_discriminator, plot_kid_by_variant
from .report import (
    D_PLOT,
    KID_PLOT,
    PLOT,
    RESULTS,
    TABLE,
    compare_to_best,
    cpu_groups,
    cpu_mismatch,
    finished_runs,
    markdown,
    resume_error,
    summarize,
)
from . import runner
from .runner import reference, reference_dataset
from .variants import (
    DEFAULT_SEEDS,
    MIN_KID_SAMPLES,
    VARIANTS,
    parse_seeds,
    parse_variants,
    plan_runs,
    resolve_config,
    resolve_settings,
    run_key,
    variant_config,
)


def parse_args(argv=None):
    from . import __doc__ as description  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="python -m recipes.ablation", description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default=os.path.join("runs", "ablation"),
                        help="output folder (default runs/ablation)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated subset of {','.join(VARIANTS)} (default: all)")
    parser.add_argument("--seeds", "--seed", dest="seeds", default=DEFAULT_SEEDS,
                        help="comma-separated seeds (ints >= 0) of every variant: one run per "
                             f"(variant, seed) (default {DEFAULT_SEEDS}); --seed N means --seeds N")
    parser.add_argument("--minutes", type=float,
                        help="training minutes per run, evaluation excluded (default 20)")
    parser.add_argument("--eval-every-minutes", type=float,
                        help="training minutes between KID evaluations (default 5)")
    parser.add_argument("--kid-samples", type=int,
                        help=f"generated (and real) images for KID, >= {MIN_KID_SAMPLES} (default 2000)")
    parser.add_argument("--fid-samples", type=int,
                        help="generated images for the final FID, >= --kid-samples (default 2000)")
    parser.add_argument("--curve-samples", type=int,
                        help="generated images for KID and FID at each evaluation before the end, "
                             "<= --kid-samples (default 1000)")
    parser.add_argument("--real-samples", type=int,
                        help="real training images of the reference statistics (default 10000)")
    parser.add_argument("--lipschitz-iterations", type=int,
                        help="power-iteration steps of each Lipschitz estimate (default 10)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe config entry, e.g. --set data.batch_size=64 (repeatable)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny model, seconds per run, few samples (a plumbing test)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--overwrite", action="store_true", help="replace an existing results.json")
    mode.add_argument("--resume", action="store_true",
                      help="keep the finished runs of an existing results.json, run the others")
    parser.add_argument("--allow-other-cpu", action="store_true",
                        help="with --resume: train on another CPU than the finished runs "
                             "(marked mixed_cpus; their training-time budgets are not comparable)")
    return parser.parse_args(argv)


def check_out(out, overwrite=False, resume=False):
    """Checks `--out` before anything is written; returns the results to resume or None."""
    from vitgan_tf.io import check_output_folder  # noqa: PLC0415

    check_output_folder(out)
    path = os.path.join(out, RESULTS)
    if not os.path.exists(path):
        return None
    if resume:
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"--resume: cannot read {path}: {error}") from error
    if overwrite:
        return None
    raise FileExistsError(f"{path} exists: pass --resume to finish its runs, --overwrite "
                          "to replace it, or choose another --out")


def write_outputs(out, results):
    """Updates the summary, then writes results.json, ablation.md and the plots, each atomically."""
    from vitgan_tf.training.callbacks import atomic_write_text  # noqa: PLC0415

    results["summary"] = summarize(results)
    results["best"] = compare_to_best(results["summary"])
    results["mixed_cpus"] = len(cpu_groups(results)) > 1
    atomic_write_text(os.path.join(out, RESULTS), json.dumps(results, indent=2, allow_nan=True))
    atomic_write_text(os.path.join(out, TABLE), markdown(results))
    plot_kid_by_variant(results, os.path.join(out, KID_PLOT))
    plot(results, os.path.join(out, PLOT))
    plot_discriminator(results, os.path.join(out, D_PLOT))


def main(argv=None, extractor=None):
    """Runs the ablation; returns 0 (all done), 1 (a run failed) or 2 (bad input).

    Args:
        argv: list of str or None (`sys.argv[1:]`).
        extractor: callable images -> features `[n, d]`, default None: the
            2015 Inception (`InceptionFeatureExtractor`). Another extractor
            (a cheap stand-in for tests) is never cached as Inception
            reference statistics.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    try:
        names = parse_variants(args.variants)
        seeds = parse_seeds(args.seeds)
        settings = resolve_settings(args)
        previous = check_out(args.out, args.overwrite, args.resume)
        config = resolve_config(args)
        reference_dataset(config)
    except (ValueError, FileExistsError, NotADirectoryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if extractor is None:
        from vitgan_tf.metrics.evaluation import FEATURES_ID  # noqa: PLC0415

        settings["features"] = FEATURES_ID
    else:
        settings["features"] = getattr(extractor, "__name__", type(extractor).__name__)
    comparable = {"settings": settings, "config": config}
    path = os.path.join(args.out, RESULTS)
    error = resume_error(previous, comparable, path) if previous is not None else None
    if error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    finished = finished_runs(previous or {})
    todo = [(n, s) for n, s in plan_runs(names, seeds) if run_key(n, s) not in finished]
    machine = runner.machine_info()
    mismatch = cpu_mismatch(previous, machine["cpu_signature"], path) if previous and todo else None
    if mismatch and not args.allow_other_cpu:
        print(f"error: --resume: {mismatch}: resume on that CPU, or pass --allow-other-cpu",
              file=sys.stderr)
        return 2
    if mismatch:
        print(f"warning: --allow-other-cpu: {mismatch}; the results are marked mixed_cpus",
              file=sys.stderr, flush=True)
    if previous and not todo:  # nothing to train: the results stay those of the commands that made them
        results = previous
    else:
        results = {
            "command": shlex.join(["python", "-m", "recipes.ablation", *argv]),
            "machine": machine, **comparable, "seeds": seeds,
            "runs": dict(previous["runs"]) if previous else {},
        }
        if previous:
            results["earlier_commands"] = previous.get("earlier_commands", []) + [previous.get("command")]
    print(f"ablation: {len(todo)} run(s) to do ({', '.join(run_key(*t) for t in todo) or 'none'}), "
          f"{settings['minutes']:g} training minutes each, out {args.out}", flush=True)
    if todo:
        cache = extractor is None
        if extractor is None:
            from vitgan_tf.metrics.inception import InceptionFeatureExtractor  # noqa: PLC0415

            extractor = InceptionFeatureExtractor()
        try:
            reference(config, settings, extractor, cache)
        except (ValueError, FileNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    for index, (name, seed) in enumerate(todo):
        key = run_key(name, seed)
        print(f"=== run {index + 1}/{len(todo)}: {key} ({VARIANTS[name][0]})", flush=True)
        record = {"status": "running", "variant": name, "seed": seed,
                  "description": VARIANTS[name][0], "overrides": VARIANTS[name][1],
                  "config": variant_config(config, name, seed, settings), "machine": machine,
                  "curve": [], "losses": [], "lipschitz": []}
        results["runs"][key] = record
        try:
            runner.run_variant(key, record["config"], settings, extractor, args.out, record)
        except Exception as error:  # noqa: BLE001 - one run's crash must not stop the others
            record.update(status="failed", error=f"{type(error).__name__}: {error}",
                          traceback=traceback.format_exc())
            print(f"[{key}] FAILED: {record['error']}", file=sys.stderr, flush=True)
        write_outputs(args.out, results)
    if not todo:
        write_outputs(args.out, results)
    failed = [k for k, r in results["runs"].items() if r.get("status") != "done"]
    print(f"wrote {os.path.join(args.out, TABLE)}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
