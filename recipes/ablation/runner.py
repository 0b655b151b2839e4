"""One ablation run: train a variant for its budget, record its curves, evaluate it."""

import os
import platform
import shutil
import time

from .report import _fmt


NUM_GRID_SAMPLES = 64


LIPSCHITZ_DATA_SEED = 0  # the Lipschitz batch is the same for every run, whatever its seed


def image_shape(config):
    """(image_size, channels) of the config's models."""
    from vitgan_tf.models import presets  # noqa: PLC0415

    model = config["model"]
    overrides = {**model.get("shared", {}), **model.get("discriminator", {})}
    keys = ("image_size", "channels")
    shape = presets.resolve(model["preset"], keys, {k: v for k, v in overrides.items() if k in keys})
    return shape["image_size"], shape["channels"]


def real_batch(config, count=None, seed=LIPSCHITZ_DATA_SEED):
    """The first `count` training images of the config's data (float32 in [-1, 1])."""
    from vitgan_tf import data as data_lib  # noqa: PLC0415
    from vitgan_tf.training.run import LIPSCHITZ_BATCH  # noqa: PLC0415

    count = LIPSCHITZ_BATCH if count is None else count
    size, channels = image_shape(config)
    dataset = data_lib.make_dataset(config["data"]["source"], size, channels, count, seed=seed)
    return next(iter(dataset)).numpy()


def reference_dataset(config):
    """The config's data source, checked to have real images for the metrics."""
    from vitgan_tf.metrics import datasets  # noqa: PLC0415

    source = config["data"]["source"]
    if source not in datasets.DATASETS:
        raise ValueError(f"data.source={source!r} has no real reference for KID/FID. "
                         f"Choices: {sorted(datasets.DATASETS)}")
    return source


def reference(config, settings, extractor, cache):
    """Real-train Inception statistics (cached when `cache`), shared by every run."""
    from vitgan_tf.metrics import evaluation  # noqa: PLC0415

    return evaluation.reference_statistics(
        reference_dataset(config), "train", image_shape(config)[0], num_samples=settings["real_samples"],
        kid_samples=settings["kid_samples"], extractor=extractor, cache=cache,
    )


def evaluate(generator, real, extractor, num_samples, kid_samples, seed):
    """KID x1000 (+ std) on `kid_samples` and FID on `num_samples` images of `generator`."""
    from vitgan_tf.metrics import evaluation  # noqa: PLC0415

    start = time.perf_counter()
    metrics = evaluation.evaluate_generator(generator, real, extractor, num_samples, kid_samples, seed)
    kid = evaluation.metric_name("kid", kid_samples)
    return {
        "kid_x1000": 1000.0 * metrics[kid], "kid_std_x1000": 1000.0 * metrics[f"{kid}_std"],
        "fid": metrics[evaluation.metric_name("fid", num_samples)],
        "kid_samples": kid_samples, "fid_samples": num_samples, "metrics": metrics,
        "eval_seconds": round(time.perf_counter() - start, 2),
    }


def make_recorder(name, budget, batch_size, eval_every_seconds, evaluate_fn, record):
    """A `VariantRecorder` (defined lazily: it subclasses a Keras callback)."""
    import keras  # noqa: PLC0415

    from vitgan_tf.training.callbacks import current_step  # noqa: PLC0415

    class VariantRecorder(keras.callbacks.Callback):
        """One run's curves against TRAINING time; evaluations on a time schedule.

        Put it after `TrainTimeBudget` and `LipschitzMonitor`: its work is then
        not training time, and it sees the monitor's `lipschitz_d` batch log.
        Appends to the lists of `record` (kept by the caller, so a crash keeps
        what was measured): "losses" at each epoch end (Keras resets the
        trackers every epoch, so epoch logs are means over exactly the steps
        since the last record), "lipschitz" whenever the monitor logged, and
        "curve" every `eval_every_seconds` of training time (the evaluation at
        the end of the budget is the caller's).
        """

        def __init__(self):
            super().__init__()
            self.next_eval = eval_every_seconds
            self.start = time.perf_counter()

        def _point(self):
            step = current_step(self.model)
            return {"step": step, "images_seen": step * batch_size,
                    "train_minutes": round(budget.elapsed / 60.0, 4)}

        def on_train_batch_end(self, batch, logs=None):
            logs = logs or {}
            if "lipschitz_d" in logs:
                record["lipschitz"].append({**self._point(), "lipschitz": float(logs["lipschitz_d"])})
            if budget.exhausted or budget.elapsed < self.next_eval:
                return
            while self.next_eval <= budget.elapsed:
                self.next_eval += eval_every_seconds
            point = {**self._point(), **evaluate_fn(self.model.ema_generator)}
            record["curve"].append(point)
            print(f"[{name}] {point['train_minutes']:.2f} train min, step {point['step']}: "
                  f"KIDx1000 {point['kid_x1000']:.2f} +- {_fmt(point['kid_std_x1000'], '.2f')}, "
                  f"FID {point['fid']:.1f} ({point['eval_seconds']:.0f} s)", flush=True)

        def on_epoch_end(self, epoch, logs=None):
            point = {**self._point(), **{k: float(v) for k, v in (logs or {}).items()}}
            point.pop("lipschitz_d", None)  # the monitor's last value, recorded above
            record["losses"].append(point)
            kid = record["curve"][-1]["kid_x1000"] if record["curve"] else float("nan")
            lip = record["lipschitz"][-1]["lipschitz"] if record["lipschitz"] else float("nan")
            print(f"[{name}] {point['train_minutes']:.2f}/{budget.seconds / 60:.2f} train min "
                  f"({(time.perf_counter() - self.start) / 60:.1f} min wall), "
                  f"step {point['step']}, d_loss {point.get('d_loss', float('nan')):.3f}, "
                  f"Lipschitz {_fmt(lip, '.3g')}, KIDx1000 {_fmt(kid, '.2f')}", flush=True)

    return VariantRecorder()


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


def run_variant(key, config, settings, real, extractor, lipschitz_images, out, record):
    """Trains run `key` (record's variant and seed) for the budget and evaluates it.

    Fills and returns `record`.
    """
    from vitgan_tf.images import save_grid  # noqa: PLC0415
    from vitgan_tf.training.callbacks import LipschitzMonitor  # noqa: PLC0415
    from vitgan_tf.metrics.evaluation import generator_batches  # noqa: PLC0415
    from vitgan_tf.training import callbacks, run  # noqa: PLC0415

    start = time.perf_counter()
    grid_file = grid_name(record["variant"], config["seed"])
    run_dir = run_dir_of(out, record["variant"], config["seed"])
    if os.path.isdir(run_dir):  # an unfinished or replaced attempt: start from scratch
        shutil.rmtree(run_dir)
    record["run_dir"] = os.path.relpath(run_dir, out)
    seed, curve_samples = config["seed"], settings["curve_samples"]
    batch_size, log_every = config["data"]["batch_size"], config["train"]["log_every"]

    def evaluate_fn(generator, num_samples=curve_samples, kid_samples=curve_samples):
        return evaluate(generator, real, extractor, num_samples, kid_samples, seed)

    # --smoke stops only at a multiple of 2 x log_every, so that even a run whose
    # first (compiling) step outlasts its budget logs losses at two steps.
    budget = callbacks.TrainTimeBudget(settings["minutes"] * 60.0,
                                       every_n_steps=2 * log_every if settings.get("smoke") else None)
    monitor = LipschitzMonitor(lipschitz_images, every_n_steps=log_every,
                               num_iterations=settings["lipschitz_iterations"])
    recorder = make_recorder(key, budget, batch_size, settings["eval_every_minutes"] * 60.0,
                             evaluate_fn, record)
    gan = run.train(config, run_dir, extra_callbacks=[budget, monitor, recorder], verbose=0)

    step = callbacks.current_step(gan)
    point = {"step": step, "images_seen": step * batch_size,
             "train_minutes": round(budget.elapsed / 60.0, 4)}
    if not record["lipschitz"] or record["lipschitz"][-1]["step"] != step:
        record["lipschitz"].append({**point, "lipschitz": monitor.estimate()})
    final = {**point, **evaluate_fn(gan.ema_generator, settings["fid_samples"], settings["kid_samples"]),
             "final": True}
    record["curve"].append(final)
    samples = next(generator_batches(gan.ema_generator, NUM_GRID_SAMPLES, NUM_GRID_SAMPLES, seed))
    save_grid(samples, os.path.join(out, grid_file))
    record.update({
        "status": "done", **point, "steps": step, "budget_minutes": settings["minutes"],
        "train_seconds": round(budget.elapsed, 3), "budget_seconds": settings["minutes"] * 60.0,
        "max_step_seconds": round(budget.max_step_seconds, 4),
        "eval_seconds": round(sum(p["eval_seconds"] for p in record["curve"]), 2),
        "wall_seconds": round(time.perf_counter() - start, 1),
        "final": final, "final_d_loss": record["losses"][-1].get("d_loss") if record["losses"] else None,
        "final_logit_gap": logit_gap(record["losses"]),
        "final_lipschitz": record["lipschitz"][-1]["lipschitz"], "samples": grid_file,
    })
    print(f"[{key}] done: {step} steps in {budget.elapsed / 60:.2f} train min, KIDx1000 "
          f"{final['kid_x1000']:.2f} +- {final['kid_std_x1000']:.2f}, FID{final['fid_samples']} "
          f"{final['fid']:.1f} ({record['wall_seconds'] / 60:.1f} min wall)", flush=True)
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
