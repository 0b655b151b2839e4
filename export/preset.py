"""A training run as a preset with weights (KerasHub's layout, `vitgan_tf.models.preset_utils`).

    python -m export --run RUN --to-preset PRESET_DIR

The preset holds the run's EMA generator (`config.json`, `model.weights.h5`)
and its discriminator (`discriminator.json`, `discriminator.weights.h5`), and
`metadata.json` states the run: recipe, seed, steps, images, training
minutes, its last FID / KID evaluations (from `metrics.jsonl`, and
`evaluation.json` when `python -m vitgan_tf.evaluate --run` wrote one), with
their dates.

    python -m export --run RUN --to-preset PRESET_DIR --check-samples 500

also records `metadata["check"]`: FID and KID of `--check-samples` generated
images (latent seed 0) against as many real training images, measured by
`vitgan_tf.metrics.evaluation` on the written preset's generator, so that a
test can recompute them from the shipped weights (`preset_check`).

    python -m export --preset PRESET_DIR --record-check --check-samples 100

measures that check again on the preset's own weights, at another sample count, and
replaces `metadata["check"]` (`record_check`).

    python -m vitgan_tf.evaluate --preset PRESET_DIR --out eval.json ...
    python -m export --preset PRESET_DIR --record-evaluation eval.json

records an evaluation of the preset's own (shipped) weights as
`metadata["training"]["evaluation"]`, when the run folder is gone or its
evaluation was never made (`record_evaluation`).
"""

import datetime
import json
import os
import shutil

from vitgan_tf import limits
from vitgan_tf.models import DISCRIMINATORS, Generator, load_generator, preset_utils
from vitgan_tf.models.loading import load_model_file
from vitgan_tf.runs import RunFolder

CHECK_SEED = 0
MAX_CHECK_SAMPLES = 60000  # Fashion-MNIST's training split
CHECK_KID_BLOCKS = 5  # KID's std needs more than one block
MIN_CHECK_SAMPLES = 2 * CHECK_KID_BLOCKS  # at least 2 images per KID block


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
    # The run's folder name, not its absolute path: the metadata ships to other machines.
    return {"training": training, "source_run": os.path.basename(os.path.abspath(folder.path))}


def preset_check(generator, dataset, num_samples, seed=CHECK_SEED, extractor=None, progress=True):
    """FID and KID of `num_samples` images of `generator` (latent `seed`) against the first
    `num_samples` training images of `dataset` (uncached), by the recipe's evaluation code;
    KID in `CHECK_KID_BLOCKS` blocks, so that its std (TF-GAN's) is defined.

    Returns `{"dataset", "num_samples", "seed", "metrics"}` (metrics: `compute_metrics`' dict,
    e.g. `fid500`, `kid500`, `kid500_std`): what
    `metadata["check"]` records and the built-in preset's test recomputes.
    """
    from vitgan_tf.metrics import evaluation  # noqa: PLC0415
    from vitgan_tf.metrics.inception import InceptionFeatureExtractor  # noqa: PLC0415

    extractor = extractor or InceptionFeatureExtractor()
    reference = evaluation.reference_statistics(
        dataset, "train", image_size=getattr(generator, "image_size", None), num_samples=num_samples,
        kid_samples=num_samples, extractor=extractor, cache=False, progress=progress)
    results = evaluation.evaluate_generator(
        generator, reference, extractor, num_samples, kid_samples=num_samples, seed=seed,
        progress=progress, kid_block_size=-(-num_samples // CHECK_KID_BLOCKS))
    return {"dataset": dataset, "num_samples": int(num_samples), "seed": int(seed),
            "metrics": results}


def _check_dataset(folder, check_samples):
    """The run's real dataset for `preset_check`, or `ValueError` before anything is written."""
    name = (folder.read_config().get("data") or {}).get("source")
    return _real_dataset(name, check_samples, f"run {folder.path!r} trained on")


def _real_dataset(name, check_samples, origin):
    """`name` if it is an evaluation dataset with `check_samples` training images, else
    `ValueError` (`origin` says where the name came from)."""
    from vitgan_tf.metrics import datasets  # noqa: PLC0415

    limits.check_count("check_samples", check_samples, MIN_CHECK_SAMPLES, MAX_CHECK_SAMPLES)
    if name not in datasets.DATASETS:
        raise ValueError(f"--check-samples needs real images: {origin} "
                         f"{name!r}, not one of {sorted(datasets.DATASETS)}")
    count = len(datasets.load_dataset(name, "train", num_samples=check_samples))
    if count < check_samples:
        raise ValueError(f"--check-samples {check_samples} exceeds {name}'s {count} training images")
    return name


def write_run_preset(run, preset_dir, check_samples=0, extractor=None):
    """Writes run folder `run` as the preset folder `preset_dir` (new or empty); returns it.

    With `check_samples`, also measures `preset_check` on the generator read
    back from the written folder (with `extractor`, default the 2015
    Inception) and records it as `metadata["check"]`; if that fails, the
    folder is removed again.
    """
    folder = RunFolder(run)
    metadata = run_metadata(folder)  # a bad run folder fails before anything is written
    dataset = _check_dataset(folder, check_samples) if check_samples else None
    generator = load_generator(folder.require_checkpoint("ema_generator"))
    discriminator = load_model_file(folder.require_checkpoint("discriminator"),
                                    tuple(DISCRIMINATORS.values()), "a ViTGAN discriminator")
    if check_samples and extractor is None:
        from vitgan_tf.metrics.inception import InceptionFeatureExtractor  # noqa: PLC0415

        extractor = InceptionFeatureExtractor()  # its weights load before anything is written
    existed = os.path.isdir(preset_dir)
    preset_utils.save_to_preset(generator, preset_dir, metadata, discriminator=discriminator)
    if check_samples:
        try:
            shipped = Generator.from_preset(preset_dir)  # what a user loads, not the run's copy
            check = preset_check(shipped, dataset, check_samples, extractor=extractor)
            preset_utils.update_metadata(preset_dir, {"check": check})
        except BaseException:
            shutil.rmtree(preset_dir, ignore_errors=True)
            if existed:
                os.makedirs(preset_dir, exist_ok=True)  # it was empty: leave it so
            raise
    return preset_dir


def record_check(preset_dir, check_samples, extractor=None):
    """Measures `preset_check` of `check_samples` images on the generator of the preset folder
    `preset_dir` and records it as its `metadata["check"]`, replacing the one there; returns it.

    The real images are those of the dataset that the preset's metadata names: its earlier
    check's, else its recorded evaluation's. `ValueError`, with nothing written, unless
    `preset_dir` is a preset folder (not a built-in name: the installed package is not
    written) whose metadata names an evaluation dataset with `check_samples` training images.
    """
    if not preset_utils.is_preset_folder(preset_dir):
        raise ValueError(f"--record-check writes a preset folder's metadata.json; "
                         f"{os.fspath(preset_dir)!r} is not a preset folder")
    metadata = preset_utils.read_metadata(preset_dir)
    evaluation = (metadata.get("training") or {}).get("evaluation") or {}
    name = (metadata.get("check") or {}).get("dataset") or (evaluation.get("real") or {}).get("dataset")
    dataset = _real_dataset(name, check_samples, f"the metadata of {os.fspath(preset_dir)!r} names")
    if extractor is None:
        from vitgan_tf.metrics.inception import InceptionFeatureExtractor  # noqa: PLC0415

        extractor = InceptionFeatureExtractor()
    check = preset_check(Generator.from_preset(preset_dir), dataset, check_samples,
                         extractor=extractor)
    preset_utils.update_metadata(preset_dir, {"check": check})
    return check


def record_evaluation(preset_dir, evaluation_path):
    """Records the evaluation file `evaluation_path` (written by
    `python -m vitgan_tf.evaluate --preset ... --out`) as the `training.evaluation` (and its
    date as `training.evaluation_date`) of the preset folder `preset_dir`; returns the record.

    `ValueError`, with nothing written, unless `preset_dir` is a preset folder (not a built-in
    name: the installed package is not written) and the file is such an evaluation of that
    same preset.
    """
    if not preset_utils.is_preset_folder(preset_dir):
        raise ValueError(f"--record-evaluation writes a preset folder's metadata.json; "
                         f"{os.fspath(preset_dir)!r} is not a preset folder")
    try:
        with open(evaluation_path) as f:
            record = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"evaluation file not found: {evaluation_path!r}") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"evaluation file {evaluation_path!r} is corrupt: {type(error).__name__}: "
                         f"{error}") from None
    metrics = record.get("metrics") if isinstance(record, dict) else None
    if not isinstance(metrics, dict) or not isinstance(record.get("num_samples"), int) or not metrics:
        raise ValueError(f"{evaluation_path!r} is not an evaluation written by "
                         f"`python -m vitgan_tf.evaluate --out` (no metrics and num_samples)")
    source = str(record.get("evaluated", ""))
    name = source.partition("preset:")[2] if source.startswith("preset:") else None
    try:
        evaluated = name and os.path.realpath(preset_utils.preset_folder(name))
    except ValueError:
        evaluated = None
    if evaluated != os.path.realpath(preset_dir):
        raise ValueError(f"{evaluation_path!r} evaluated {source or 'nothing named'}, not the preset "
                         f"{os.fspath(preset_dir)!r}")
    training = dict(preset_utils.read_metadata(preset_dir).get("training") or {})
    training["evaluation"] = record
    training["evaluation_date"] = _date(evaluation_path)
    preset_utils.update_metadata(preset_dir, {"training": training})
    return record
