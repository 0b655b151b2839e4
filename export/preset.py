"""A training run as a preset with weights (KerasHub's layout, `vitgan_tf.models.preset_utils`).

    python -m export --run RUN --preset PRESET_DIR

The preset holds the run's EMA generator (`config.json`, `model.weights.h5`)
and its discriminator (`discriminator.json`, `discriminator.weights.h5`), and
`metadata.json` states the run: recipe, seed, steps, images, training
minutes, its last FID / KID evaluations (from `metrics.jsonl`, and
`evaluation.json` when `python -m vitgan_tf.evaluate --run` wrote one), with
their dates.
"""

import datetime
import json
import os

from vitgan_tf.models import DISCRIMINATORS, load_generator, preset_utils
from vitgan_tf.models.loading import load_model_file
from vitgan_tf.runs import RunFolder


def _date(path):
    """The modification date of `path` (UTC, ISO 8601)."""
    stamp = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    return stamp.isoformat(timespec="seconds")


def run_metadata(folder):
    """The facts of run `folder` (a `RunFolder`) that a preset's metadata states."""
    config = folder.read_config()
    records = folder.read_metrics()
    last = records[-1] if records else {}
    metrics = {}
    for record in records:  # the latest value of every FID / KID the run logged
        for key, value in record.items():
            if key.startswith(("fid", "kid")):
                metrics[key] = {"value": value, "step": record["step"]}
    training = {"recipe": config.get("recipe"), "seed": config.get("seed"),
                "steps": folder.checkpoint_step(), "images": last.get("images"),
                "train_minutes": round(last["train_time"] / 60.0, 2) if "train_time" in last else None,
                "metrics": metrics,
                "metrics_date": _date(folder.metrics_path) if records else None}
    if os.path.isfile(folder.evaluation_path):
        try:
            with open(folder.evaluation_path) as f:
                training["evaluation"] = json.load(f)
        except (OSError, ValueError) as error:
            raise ValueError(f"Could not parse {folder.evaluation_path!r}: {error}") from error
        training["evaluation_date"] = _date(folder.evaluation_path)
    return {"training": training, "source_run": os.path.abspath(folder.path)}


def write_run_preset(run, preset_dir):
    """Writes run folder `run` as the preset folder `preset_dir` (new or empty); returns it."""
    folder = RunFolder(run)
    metadata = run_metadata(folder)  # a bad run folder fails before anything is written
    generator = load_generator(folder.require_checkpoint("ema_generator"))
    discriminator = load_model_file(folder.require_checkpoint("discriminator"),
                                    tuple(DISCRIMINATORS.values()), "a ViTGAN discriminator")
    return preset_utils.save_to_preset(generator, preset_dir, metadata, discriminator=discriminator)
