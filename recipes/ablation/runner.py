"""One ablation run: `run.train` for the variant's budget, then its curves from the run folder."""

import os
import platform
import shutil
import time

from .report import _fmt


NUM_GRID_SAMPLES = 64


def image_shape(config):
    """(image_size, channels) of the config's models."""
    from vitgan_tf.models import presets  # noqa: PLC0415

    model = config["model"]
    overrides = {**model.get("shared", {}), **model.get("discriminator", {})}
    keys = ("image_size", "channels")
    shape = presets.resolve(model["preset"], keys, {k: v for k, v in overrides.items() if k in keys})
    return shape["image_size"], shape["channels"]


def reference_dataset(config):
    """The config's data source, checked to have real images for the metrics."""
    from vitgan_tf.metrics import datasets  # noqa: PLC0415

    source = config["data"]["source"]
    if source not in datasets.DATASETS:
        raise ValueError(f"data.source={source!r} has no real reference for KID/FID. "
                         f"Choices: {sorted(datasets.DATASETS)}")
    return source


def reference(config, settings, extractor, cache):
    """Real-train Inception statistics (cached when `cache`): computed once before the
    runs, so that a missing dataset fails before any training and every run's
    `FIDCallback` finds them in the cache."""
    from vitgan_tf.metrics import evaluation  # noqa: PLC0415

    return evaluation.reference_statistics(
        reference_dataset(config), "train", image_shape(config)[0], num_samples=settings["real_samples"],
        kid_samples=settings["kid_samples"], extractor=extractor, cache=cache,
    )


def run_dir_of(out, variant, seed):
    """`out/runs/{variant}/seed{seed}`: the run folder of `recipes.train`."""
    return os.path.join(out, "runs", variant, f"seed{seed}")


def grid_name(variant, seed):
    """`samples_{variant}_seed{seed}.png`: one run's grid in the ablation folder."""
    return f"samples_{variant}_seed{seed}.png"


def logit_gap(losses):
    """d_real - d_fake of the last logged losses record, or None."""
    last = losses[-1] if losses else {}
    if "d_real" not in last or "d_fake" not in last:
        return None
    return last["d_real"] - last["d_fake"]


# Keys of a metrics.jsonl record that are not losses.
_RECORD_KEYS = ("step", "time", "images", "train_time", "lipschitz_d")


def evaluation_point(record, num_samples, kid_samples):
    """The FID / KID x1000 of one metrics.jsonl record (`fid2k`, `kid2k`, ...), or None."""
    from vitgan_tf.metrics.evaluation import metric_name  # noqa: PLC0415

    fid, kid = metric_name("fid", num_samples), metric_name("kid", kid_samples)
    if fid not in record or kid not in record:
        return None
    std = record.get(f"{kid}_std", float("nan"))
    return {"kid_x1000": 1000.0 * record[kid], "kid_std_x1000": 1000.0 * std, "fid": record[fid],
            "kid_samples": kid_samples, "fid_samples": num_samples,
            "metrics": {k: record[k] for k in (fid, kid, f"{kid}_std") if k in record}}


def curves(records, settings):
    """{"losses", "lipschitz", "curve", "final"} of a run's metrics.jsonl records.

    Points carry `step`, `images_seen` and `train_minutes`; the curve's points
    are the evaluations on `curve_samples` before the end, then the final one
    (`fid_samples`, `kid_samples`; `"final": True`).
    """
    from vitgan_tf.metrics.evaluation import metric_name  # noqa: PLC0415

    curve_names = {metric_name(m, settings["curve_samples"]) for m in ("fid", "kid")}
    final_names = {metric_name("fid", settings["fid_samples"]),
                   metric_name("kid", settings["kid_samples"])}
    out = {"losses": [], "lipschitz": [], "curve": []}
    for index, record in enumerate(records):
        point = {"step": record["step"], "images_seen": record.get("images"),
                 "train_minutes": round(record["train_time"] / 60.0, 4)}
        metric_keys = {k for k in record if k.removesuffix("_std") in curve_names | final_names}
        out["losses"].append({**point, **{k: v for k, v in record.items()
                                          if k not in _RECORD_KEYS and k not in metric_keys}})
        if "lipschitz_d" in record:
            out["lipschitz"].append({**point, "lipschitz": record["lipschitz_d"]})
        last = index == len(records) - 1
        curve = None if last and curve_names == final_names else evaluation_point(
            record, settings["curve_samples"], settings["curve_samples"])
        if curve is not None:
            out["curve"].append({**point, **curve})
    final = evaluation_point(records[-1], settings["fid_samples"], settings["kid_samples"]) if records else None
    if final is None:
        raise RuntimeError("the run's last metrics record holds no final evaluation "
                           f"({sorted(final_names)})")
    point = out["losses"][-1]
    out["final"] = {"step": point["step"], "images_seen": point["images_seen"],
                    "train_minutes": point["train_minutes"], **final, "final": True}
    out["curve"].append(out["final"])
    return out


def run_variant(key, config, settings, extractor, out, record):
    """Trains run `key` (record's variant and seed) with `run.train` and fills `record`.

    `run.train` does the work of `python -m recipes.train`: its training-time
    budget (`train.train_minutes`), its `FIDCallback`s on a training-time
    schedule (`train.eval_every_minutes`, then `final_eval_samples` /
    `final_kid_samples` when the budget stops it) and its Lipschitz monitor,
    all logged into the run folder's `metrics.jsonl` (`variant_config` sets
    those keys from `settings`). This reads that file back into `record`'s
    curves and saves a grid of the EMA generator. Returns `record`.
    """
    from vitgan_tf.images import save_grid  # noqa: PLC0415
    from vitgan_tf.metrics.evaluation import generator_batches  # noqa: PLC0415
    from vitgan_tf.runs import RunFolder, read_metrics  # noqa: PLC0415
    from vitgan_tf.training import run  # noqa: PLC0415

    start = time.perf_counter()
    seed = config["seed"]
    grid_file = grid_name(record["variant"], seed)
    run_dir = run_dir_of(out, record["variant"], seed)
    if os.path.isdir(run_dir):  # an unfinished or replaced attempt: start from scratch
        shutil.rmtree(run_dir)
    record["run_dir"] = os.path.relpath(run_dir, out)
    gan = run.train(config, run_dir, verbose=2, extractor=extractor)
    records = read_metrics(RunFolder(run_dir).metrics_path)
    record.update(curves(records, settings))
    samples = next(generator_batches(gan.ema_generator, NUM_GRID_SAMPLES, NUM_GRID_SAMPLES, seed))
    save_grid(samples, os.path.join(out, grid_file))
    final, last = record["final"], records[-1]
    record.update({
        "status": "done", "step": final["step"], "images_seen": final["images_seen"],
        "train_minutes": final["train_minutes"], "steps": final["step"],
        "budget_minutes": settings["minutes"], "train_seconds": last["train_time"],
        "budget_seconds": settings["minutes"] * 60.0,
        # Evaluations, checkpoints and sample grids: the run's time outside its train steps.
        "other_seconds": round(last["time"] - last["train_time"], 2),
        "wall_seconds": round(time.perf_counter() - start, 1),
        "final_d_loss": record["losses"][-1].get("d_loss"),
        "final_logit_gap": logit_gap(record["losses"]),
        "final_lipschitz": record["lipschitz"][-1]["lipschitz"] if record["lipschitz"] else None,
        "samples": grid_file,
    })
    print(f"[{key}] done: {final['step']} steps in {final['train_minutes']:.2f} train min, KIDx1000 "
          f"{final['kid_x1000']:.2f} +- {_fmt(final['kid_std_x1000'], '.2f')}, "
          f"FID{final['fid_samples']} {final['fid']:.1f} ({record['wall_seconds'] / 60:.1f} min wall)",
          flush=True)
    return record


def cpu_signature():
    """This CPU's `vitgan_tf.machine.cpu_signature`: runs with a training-time budget are
    comparable only on CPUs with one signature."""
    from vitgan_tf import machine  # noqa: PLC0415

    return machine.cpu_signature()


def machine_info():
    """CPU, its `cpu_signature`, core count and library versions of this machine."""
    import keras  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    from vitgan_tf.machine import cpu_model  # noqa: PLC0415

    return {"cpu": cpu_model(), "cpu_signature": cpu_signature(), "cores": os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__}
