"""Train a recipe: python -m recipes.train RECIPE [options].

    python -m recipes.train fashion_mnist                 # the CPU demo
    python -m recipes.train cifar10 --strategy mirrored --out runs/cifar10
    python -m recipes.train tiny --steps 10 --set gan.bcr_real=0 --dry-run

The run folder (--out, default runs/RECIPE) gets config.json, sample grids
samples_{step:06d}.png, metrics.jsonl, tensorboard/, checkpoints/ and
backup/. Running the same command again resumes an interrupted run; a
folder holding a different run is refused.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv=None):
    from . import RECIPES

    parser = argparse.ArgumentParser(
        prog="python -m recipes.train", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("recipe", help=f"one of {list(RECIPES)}")
    parser.add_argument("--steps", type=int, help="train steps (train.steps)")
    parser.add_argument("--batch-size", type=int, help="global batch size (data.batch_size)")
    parser.add_argument("--out", help="run folder (default runs/RECIPE)")
    parser.add_argument("--strategy",  # checked with the config: run.STRATEGIES owns the names
                        help="tf.distribute strategy (train.strategy; an unknown name lists the choices)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config entry, e.g. --set gan.bcr_real=5 (repeatable)")
    parser.add_argument("--no-eval", action="store_true",
                        help="no FID/KID evaluations (train.eval_every=0, train.eval_every_minutes=null, "
                             "train.final_eval_samples=0)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the resolved config, build the models, train nothing")
    return parser.parse_args(argv)


# Inception feature rate assumed by the up-front estimate (2 CPU cores: 20-40 images/s).
ESTIMATE_IMAGES_PER_SECOND = 25.0


def resolve_config(recipe, steps=None, batch_size=None, strategy=None, sets=(), updates=None):
    """The resolved, validated config of `recipe` with command-line style overrides.

    Args:
        recipe: str, a name of `recipes.RECIPES`.
        steps, batch_size, strategy: the `--steps`, `--batch-size`, `--strategy` values, or None.
        sets: iterable of `"key.path=value"` strings (`--set`).
            When `steps` cuts the recipe short, `train.final_eval_samples`
            shrinks to `train.eval_samples` unless `sets` names it.
        updates: dict or None, merged into the recipe's config before `sets`
            (e.g. an ablation variant's overrides).

    Raises:
        ValueError naming the bad recipe, key or value.
    """
    from . import get_config
    from vitgan_tf.training import run

    config = run.merge(run.base_config(), get_config(recipe))
    if updates:
        config = run.merge(config, updates)
    recipe_steps = config["train"]["steps"]
    if steps is not None:
        config["train"]["steps"] = steps
    if batch_size is not None:
        config["data"]["batch_size"] = batch_size
    if strategy is not None:
        config["train"]["strategy"] = strategy
    for assignment in sets:
        run.set_key(config, assignment)
    train = config["train"]
    explicit = {a.split("=", 1)[0].strip() for a in sets}
    if steps is not None and steps < recipe_steps and "train.final_eval_samples" not in explicit:
        # A run cut short gets a short final evaluation, as the periodic ones.
        train["final_eval_samples"] = min(train["final_eval_samples"], train["eval_samples"])
    run.validate(config)
    run.schedule(config)
    return config


def resolve(args):
    """The resolved config of the parsed arguments."""
    sets = list(args.set)
    if getattr(args, "no_eval", False):
        sets += ["train.eval_every=0", "train.eval_every_minutes=null", "train.final_eval_samples=0"]
    return resolve_config(args.recipe, args.steps, args.batch_size, args.strategy, sets)


def evaluation_estimate(config):
    """One line: the evaluations a run of `config` will make, and their rough cost."""
    train = config["train"]
    every, final = train["eval_every"], train["final_eval_samples"]
    every_minutes = train.get("eval_every_minutes")
    if not every and not final and not every_minutes:
        return "evaluations: none"
    rate = ESTIMATE_IMAGES_PER_SECOND

    def minutes(images):
        return f"~{images / rate / 60:.1f} min"

    parts = []
    if every and train["steps"] // every:
        count = f"up to {train['steps'] // every}"
        if train.get("train_minutes"):
            count += f", fewer if the {train['train_minutes']:g}-min budget ends the run first"
        parts.append(f"FID/KID on {train['eval_samples']} generated images every {every} steps "
                     f"({count}), {minutes(train['eval_samples'])} each")
    if every_minutes:
        parts.append(f"FID/KID on {train['eval_samples']} generated images every "
                     f"{every_minutes:g} training minutes, {minutes(train['eval_samples'])} each")
    if final:
        parts.append(f"FID on {final} at the last step, {minutes(final)}")
    parts.append(f"{train['eval_real_samples']} real images once (then cached), "
                 f"{minutes(train['eval_real_samples'])}")
    return (f"evaluations: {'; '.join(parts)} (Inception at an assumed {rate:g} images/s); "
            "--no-eval skips them")


def main(argv=None):
    args = parse_args(argv)
    try:
        config = resolve(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # The strategy first: MultiWorkerMirroredStrategy must exist before other TF work.
    from vitgan_tf.training import run

    strategy = run.make_strategy(config["train"]["strategy"])
    out = args.out or os.path.join("runs", args.recipe)
    print(json.dumps(config, indent=2, sort_keys=True))
    print(evaluation_estimate(config), flush=True)
    try:
        if args.dry_run:
            with strategy.scope():
                gan = run.build_gan(config)
            print(f"generator: {gan.generator.count_params():,} parameters; "
                  f"discriminator: {gan.discriminator.count_params():,}; "
                  f"replicas: {strategy.num_replicas_in_sync}; out: {out} (not written)")
            return 0
        run.train(config, out, strategy=strategy)
    except run.RunFolderWriteError as error:  # disk full or permissions, mid-run
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (FileExistsError, FileNotFoundError, NotADirectoryError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)  # bad input: a folder, a file, a value
        return 2
    except FloatingPointError as error:  # NaN/Inf losses (NaNGuard names the step)
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"done: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
