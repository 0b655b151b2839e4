"""The ablation's results: per-variant statistics, the best variant, `ablation.md`."""

import json
import math

import numpy as np

from .variants import RECIPE, VARIANTS


RESULTS = "results.json"


TABLE = "ablation.md"


PLOT = "kid_vs_time.png"


D_PLOT = "d_vs_time.png"


KID_PLOT = "kid_by_variant.png"


def run_signature(record):
    """The cpu_signature of a run's record ("unknown" if it has none)."""
    return (record.get("machine") or {}).get("cpu_signature", "unknown")


def finished_runs(results):
    """{key: record} of the finished runs of `results`, in their order."""
    return {k: r for k, r in results.get("runs", {}).items() if r.get("status") == "done"}


def _stats(values):
    """{"mean", "std", "n"} of the non-None values; std with ddof=1, None below 2 values."""
    values = [float(v) for v in values if v is not None]
    n = len(values)
    return {"mean": float(np.mean(values)) if n else None,
            "std": float(np.std(values, ddof=1)) if n >= 2 else None, "n": n}


def _kid_order(item):
    """Sort key of a (variant, summary) item: mean KID x1000, missing or NaN last."""
    mean = item[1]["kid_x1000"]["mean"]
    return (mean is None or math.isnan(mean), mean if mean is not None else 0.0)


def summarize(results):
    """results["summary"]: per variant, mean and std of its finished runs' finals, best KID first."""
    runs = results.get("runs", {})
    done = finished_runs(results)
    summary = {}
    for name in dict.fromkeys(r["variant"] for r in runs.values()):
        mine = [r for r in done.values() if r["variant"] == name]
        summary[name] = {
            "description": VARIANTS[name][0], "n": len(mine), "seeds": [r["seed"] for r in mine],
            "not_done_seeds": [r["seed"] for r in runs.values()
                               if r["variant"] == name and r.get("status") != "done"],
            "kid_x1000": _stats(r["final"]["kid_x1000"] for r in mine),
            "fid": _stats(r["final"]["fid"] for r in mine),
            "logit_gap": _stats(r.get("final_logit_gap") for r in mine),
            "lipschitz": _stats(r.get("final_lipschitz") for r in mine),
            "steps": _stats(r["steps"] for r in mine),
        }
    return dict(sorted(summary.items(), key=_kid_order))


def compare_to_best(summary):
    """results["best"]: the variant of lowest mean KID x1000, and whether `full` is within one std.

    The rule: `full_mean - best_mean <= max(best_std, full_std)` (KID x1000,
    sample stds over seeds; a missing std is left out of the max). None when
    undecidable (no finished run, no `full`, or no std: one seed each).
    """
    ranked = [(n, s) for n, s in summary.items() if s["n"] and not _kid_order((n, s))[0]]
    if not ranked:
        return None
    best_name, best = ranked[0]
    out = {"variant": best_name, "kid_x1000_mean": best["kid_x1000"]["mean"],
           "full_within_one_std": None,
           "rule": "full_mean - best_mean <= max(best_std, full_std), KID x1000 over seeds"}
    full = summary.get("full")
    if best_name == "full":
        out["full_within_one_std"] = True
    elif full and full["n"] and not _kid_order(("full", full))[0]:
        stds = [s for s in (best["kid_x1000"]["std"], full["kid_x1000"]["std"]) if s is not None]
        if stds:
            out["full_within_one_std"] = bool(full["kid_x1000"]["mean"] - best["kid_x1000"]["mean"]
                                              <= max(stds))
    return out


def cpu_groups(results):
    """{cpu_signature: [run keys]} of the finished runs."""
    groups = {}
    for key, record in finished_runs(results).items():
        groups.setdefault(run_signature(record), []).append(key)
    return groups


def _fmt(value, spec):
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def _pm(stats, spec):
    """`"mean +- std"` of a `_stats` dict (n/a where missing)."""
    return f"{_fmt(stats['mean'], spec)} +- {_fmt(stats['std'], spec)}"


def best_line(results):
    """The sentence naming the best variant and whether `full` is within one std of it."""
    best, summary = results.get("best"), results["summary"]
    if best is None:
        return "No variant has a finished run yet."
    b = summary[best["variant"]]
    line = (f"Best (lowest mean KID x1000): `{best['variant']}`, {_pm(b['kid_x1000'], '.2f')} over "
            f"{b['n']} seed(s). Rule for \"`full` is within one std of the best\": "
            "`full_mean - best_mean <= max(best_std, full_std)` (KID x1000, sample stds over seeds). ")
    full = summary.get("full")
    if best["variant"] == "full":
        return line + "`full` is the best."
    if not full or not full["n"]:
        return line + "`full` has no finished run."
    f, bk = full["kid_x1000"], b["kid_x1000"]
    stds = [s for s in (bk["std"], f["std"]) if s is not None]
    if best["full_within_one_std"] is None:
        return line + f"`full` ({_pm(f, '.2f')}): undecidable, no std (one seed each)."
    verdict = "yes" if best["full_within_one_std"] else "no"
    return line + (f"`full` ({_pm(f, '.2f')}) is within one std: {verdict} "
                   f"({f['mean']:.2f} - {bk['mean']:.2f} = {f['mean'] - bk['mean']:.2f} vs "
                   f"{max(stds):.2f}).")


def markdown(results):
    """ablation.md: the per-variant summary, the per-run table, the command and the machine."""
    s, m = results["settings"], results["machine"]
    fid_n = s["fid_samples"]
    seeds = sorted({r["seed"] for r in results["runs"].values()})
    lines = [
        "# ViTGAN ablation", "",
        f"Recipe `{RECIPE}`, {s['minutes']:g} training minutes per run (evaluation excluded), "
        f"seeds {', '.join(map(str, seeds))}. EMA generator; KID x1000 (unbiased, +- TF-GAN's std) on "
        f"{s['kid_samples']} generated vs {s['kid_samples']} real training images, FID on {fid_n} "
        f"generated vs {s['real_samples']} real (biased upwards at this size: for comparing "
        f"variants), features `{s['features']}`. The curve's earlier points use "
        f"{s['curve_samples']} generated images. Logit gap: d_real - d_fake (D's mean logits on "
        "augmented reals and fakes) of the last logged interval.", "",
    ]
    groups = cpu_groups(results)
    if results.get("mixed_cpus"):
        lines += ["**Warning: mixed CPUs** (`--allow-other-cpu`): the budget is training time, so runs "
                  "on different CPUs trained for different step counts and are not comparable. "
                  + "; ".join(f"`{sig}`: {', '.join(keys)}" for sig, keys in groups.items()) + ".", ""]
    lines += [
        "## Per variant (final values, mean +- sample std over seeds)", "",
        "| variant | seeds | KID x1000 mean +- std | FID mean +- std | logit gap mean +- std "
        "| D Lipschitz mean +- std | steps mean |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, v in results["summary"].items():
        lines.append(f"| {name} | {v['n']} | {_pm(v['kid_x1000'], '.2f')} | {_pm(v['fid'], '.1f')} | "
                     f"{_pm(v['logit_gap'], '.3f')} | {_pm(v['lipschitz'], '.3g')} | "
                     f"{_fmt(v['steps']['mean'], '.0f')} |")
    lines += ["", best_line(results), "", "## Per run", "",
              f"| run | train min | wall min | steps | images seen | KID x1000 | FID{fid_n} | "
              "final D loss | logit gap | final Lipschitz |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key, r in results["runs"].items():
        if r.get("status") != "done":
            error = str(r.get("error", r.get("status", "not run"))).replace("|", "/").splitlines()[0]
            lines.append(f"| {key} | failed: {error} | | | | | | | | |")
            continue
        final = r["final"]
        lines.append(
            f"| {key} | {r['train_minutes']:.2f} | {_fmt(r.get('wall_seconds', 0) / 60, '.1f')} | "
            f"{r['steps']} | {r['images_seen']} | "
            f"{final['kid_x1000']:.2f} +- {_fmt(final['kid_std_x1000'], '.2f')} | {final['fid']:.1f} | "
            f"{_fmt(r['final_d_loss'], '.3f')} | {_fmt(r.get('final_logit_gap'), '.3f')} | "
            f"{_fmt(r['final_lipschitz'], '.3g')} |"
        )
    lines += ["", "Variants:", ""]
    lines += [f"- `{name}`: {VARIANTS[name][0]}" for name in results["summary"]]
    lines += ["", f"![Mean KID x1000 per variant, +- std over seeds]({KID_PLOT})", "",
              f"![KID x1000 against training minutes]({PLOT})", "",
              f"![D's loss and Lipschitz estimate against training minutes]({D_PLOT})", "",
              f"Command: `{results['command']}`", "",
              f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}; Python {m['python']}, "
              f"TensorFlow {m['tensorflow']}, Keras {m['keras']}. CPU signature(s) of the runs: "
              + "; ".join(f"`{sig}`" for sig in groups) + ".", ""]
    return "\n".join(lines)


def resume_error(previous, comparable, path):
    """Why `previous` (a results.json) cannot be resumed with `comparable`, or None."""
    if "runs" not in previous:
        return (f"--resume: {path} has no \"runs\" (the single-seed layout of bench/ablation.py?); "
                "use --overwrite or another --out")
    if {k: previous.get(k) for k in comparable} != json.loads(json.dumps(comparable)):
        return (f"--resume: {path} was made with other settings or another config; rerun with "
                "the same options (--variants and --seeds may differ), or use --overwrite")
    return None


def cpu_mismatch(previous, signature, path):
    """Why the finished runs of `previous` are not comparable with runs on `signature`, or None."""
    others = sorted(set(cpu_groups(previous)) - {signature})
    if not others:
        return None
    return (f"this CPU is {signature!r} but finished runs in {path} ran on "
            f"{', '.join(map(repr, others))}; training-time budgets are not comparable across CPUs")
