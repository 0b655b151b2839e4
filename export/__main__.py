"""Command line: export a ViTGAN generator to SavedModel (TF Serving) and TFLite.

    python -m export --run RUN --out exported [--checkpoint ema|generator]
    python -m export --generator FILE.keras --out exported [--name vitgan] [--version 1]
        [--formats saved_model tflite] [--variants float32 float16 int8] [--overwrite]
    python -m export --preset vitgan_fashion_mnist --out exported   # a preset's generator
    python -m export --run RUN --to-preset PRESET_DIR [--check-samples 500]   # a run as a preset
    python -m export --preset PRESET_DIR --record-evaluation EVAL.json   # its FID10k into metadata.json
    python -m export --preset PRESET_DIR --record-check --check-samples 100   # its check, measured again
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import vitgan_tf  # noqa: E402,F401  (first: it imports TensorFlow quietly, vitgan_tf.native_log)
from vitgan_tf import limits  # noqa: E402
from . import common  # noqa: E402
from .main import FORMATS, export_generator  # noqa: E402
from .preset import MAX_CHECK_SAMPLES, MIN_CHECK_SAMPLES  # noqa: E402
from .tflite import TFLITE_VARIANTS  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m export", description=__doc__.splitlines()[0]
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="training run folder (config.json, checkpoints/)")
    source.add_argument("--generator", help="a .keras generator file")
    source.add_argument("--preset", help="a preset with weights (a built-in name or a folder)")
    parser.add_argument("--checkpoint", choices=sorted(common.RUN_CHECKPOINTS), default=None,
                        help="which checkpoint of --run to export (default: ema)")
    output = parser.add_mutually_exclusive_group(required=True)
    output.add_argument("--out", help="output base folder (SavedModel, TFLite)")
    output.add_argument("--to-preset", metavar="PRESET_DIR",
                        help="write --run as a preset folder instead (new or empty): "
                             "EMA generator, discriminator, metadata.json")
    output.add_argument("--record-evaluation", metavar="EVAL_JSON",
                        help="with --preset PRESET_DIR: record the evaluation that "
                             "`python -m vitgan_tf.evaluate --preset PRESET_DIR --out EVAL_JSON` wrote "
                             "in the preset's metadata.json (training.evaluation)")
    output.add_argument("--record-check", action="store_true",
                        help="with --preset PRESET_DIR and --check-samples N: measure the check "
                             "again on the preset's own weights and record it in its "
                             "metadata.json['check'], replacing the one there")
    parser.add_argument("--check-samples", type=limits.int_arg(MIN_CHECK_SAMPLES, MAX_CHECK_SAMPLES), default=0, metavar="N",
                        help="with --to-preset or --record-check: record FID / KID of N generated images "
                             "against N real ones in metadata.json['check'] (default 0: none)")
    parser.add_argument("--name", default="vitgan", help="model name (default: vitgan)")
    parser.add_argument("--version", type=int, default=None,
                        help="version folder (default: next free number)")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--variants", nargs="+", choices=TFLITE_VARIANTS, default=list(TFLITE_VARIANTS),
                        help="TFLite variants (default: all)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing version folder")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.run is None and args.checkpoint is not None:
        print("error: --checkpoint only applies to --run", file=sys.stderr)
        return 2
    if args.to_preset is not None:
        return _write_preset(args)
    if args.record_evaluation is not None:
        return _record_evaluation(args)
    if args.record_check:
        return _record_check(args)
    if args.check_samples:
        print("error: --check-samples only applies to --to-preset and --record-check", file=sys.stderr)
        return 2
    try:
        result = export_generator(
            args.out, run=args.run, generator=args.generator, preset=args.preset,
            checkpoint=args.checkpoint or "ema",
            name=args.name, version=args.version, formats=args.formats,
            variants=args.variants, overwrite=args.overwrite,
        )
    except (OSError, ValueError) as error:  # bad input: a file, a folder, a value
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:  # a conversion that failed
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"exported {result['source']} as version {result['version']}")
    if result["saved_model"]:
        print(f"  SavedModel: {result['saved_model']}")
    for variant, path in result["tflite"].items():
        print(f"  TFLite {variant:>7}: {path} ({os.path.getsize(path) / 1e6:.2f} MB)")
    return 0


def _unless_bad_input(function, *args, **kwargs):
    """`(function(*args, **kwargs), 0)`; on bad input (`OSError`, `ValueError`: a file, a
    folder, a value) `(None, 2)`, the error printed as one line."""
    try:
        return function(*args, **kwargs), 0
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return None, 2


def _record_evaluation(args):
    from .preset import record_evaluation  # noqa: PLC0415

    if args.preset is None:
        print("error: --record-evaluation writes a preset's metadata: give --preset PRESET_DIR",
              file=sys.stderr)
        return 2
    record, failed = _unless_bad_input(record_evaluation, args.preset, args.record_evaluation)
    if failed:
        return failed
    print(f"recorded {sorted(record['metrics'])} of {record['num_samples']} samples in "
          f"{os.path.join(args.preset, 'metadata.json')}")
    return 0


def _record_check(args):
    from .preset import record_check  # noqa: PLC0415

    if args.preset is None or not args.check_samples:
        print("error: --record-check measures a preset's check: give --preset PRESET_DIR and "
              "--check-samples N", file=sys.stderr)
        return 2
    check, failed = _unless_bad_input(record_check, args.preset, args.check_samples)
    if failed:
        return failed
    metrics = ", ".join(f"{key} {value:.6g}" if isinstance(value, float) else f"{key} {value}"
                        for key, value in check["metrics"].items())
    print(f"recorded the check of {check['num_samples']} samples ({metrics}) in "
          f"{os.path.join(args.preset, 'metadata.json')}")
    return 0


def _write_preset(args):
    from .preset import write_run_preset  # noqa: PLC0415

    if args.run is None:
        print("error: --to-preset writes a training run: give --run RUN", file=sys.stderr)
        return 2
    folder, failed = _unless_bad_input(write_run_preset, args.run, args.to_preset,
                                       check_samples=args.check_samples)
    if failed:
        return failed
    print(f"wrote the preset {folder} (load it with Generator.from_preset({folder!r}))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
