"""Several EMA horizons of one training run: which average of G scores best, with no seed noise.

    python bench/ema_horizons.py fashion_mnist --out runs/ema/zen3 \\
        --shadow d0999_c10=0.999:10 --shadow d09999_c10=0.9999:10 --shadow d09999_c4=0.9999:4 \\
        --save-every 7500 --set train.train_minutes=60

Trains `recipe` as `python -m recipes.train` does (with `--set` overrides), and
keeps beside the run's own EMA generator one shadow average of G per
`--shadow LABEL=DECAY:C`, updated after every step as the run's is
(`vitgan_tf.training.gan.ViTGAN`):

    shadow <- g + decay_t * (shadow - g),   decay_t = min(DECAY, (1 + t) / (C + t))

with t the G steps done. The recipe's own EMA is DECAY = `gan.ema_decay`, C = 10
(`ema_rampup`), whose horizon 1 / (1 - decay_t) is about t / 9 steps until the
cap binds; C = 4 averages about the last third of the steps. All shadows see the same
G trajectory, so differences between them are the horizon's alone, not a seed's.

Every `--save-every` steps and at the end it writes each shadow, the raw G
and the run's EMA G as `OUT/shadows/LABEL_stepN.keras` (`raw`, `ema` for the
last two), and prints the largest difference between each shadow whose
(DECAY, C) equals the run's and the run's EMA G (a check of this script: 0 at
every save of the recorded run in docs/quality/hybrid.md). Score the files with `bench/sample_coverage.py`.

The shadows start at G's initial weights with the run and are not resumed:
OUT must not hold a run. They are updated eagerly after each step (outside the
compiled step), so the run's training time includes their cost (not
measured separately); compare shadows only with each other.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_shadow(text):
    """`LABEL=DECAY:C` -> (label, decay, c); ValueError naming the bad part."""
    label, sep, spec = text.partition("=")
    decay, sep2, c = spec.partition(":")
    if not sep or not sep2 or not label.strip() or label in ("raw", "ema"):
        raise ValueError(f"Expected --shadow LABEL=DECAY:C with LABEL not 'raw' or 'ema'. Received: {text!r}")
    if not label.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"Expected a LABEL of letters, digits, '_' and '-'. Received: {label!r}")
    try:
        decay, c = float(decay), float(c)
    except ValueError:
        raise ValueError(f"Expected numbers DECAY and C in --shadow {text!r}.") from None
    if not 0.0 <= decay < 1.0 or not c >= 1.0:
        raise ValueError(f"Expected DECAY in [0, 1) and C >= 1 in --shadow {text!r}.")
    return label, decay, c


def decay_at(decay, c, t):
    """decay_t of a shadow after t G steps (the formula of the module docstring)."""
    return min(decay, (1.0 + t) / (c + t))


def shadow_callback(shadows, out_dir, save_every):
    """A Keras callback keeping `shadows` [(label, decay, c)] of `model.generator`."""
    import keras
    import tensorflow as tf

    from vitgan_tf.models.generator import Generator

    class ShadowEMAs(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            g = self.model.generator
            self.models = []
            for label, _, _ in shadows:
                copy = Generator.from_config({**g.get_config(), "name": f"shadow_{label}"})
                copy.build((None, g.z_dim))
                copy.set_weights(g.get_weights())
                self.models.append(copy)
            sources = [v.value for v in g.trainable_variables]
            targets = [[v.value for v in m.trainable_variables] for m in self.models]

            @tf.function
            def update(decays):
                for k, target in enumerate(targets):
                    for s, w in zip(target, sources):
                        s.assign(w + decays[k] * (s - w))

            self._update = update
            self._saved_at = None
            os.makedirs(os.path.join(out_dir, "shadows"), exist_ok=True)

        def on_train_batch_end(self, batch, logs=None):
            t = int(self.model.g_optimizer.iterations.numpy())
            self._update(tf.constant([decay_at(d, c, t) for _, d, c in shadows], tf.float32))
            if t % save_every == 0:
                self.save(t)

        def on_train_end(self, logs=None):
            self.save(int(self.model.g_optimizer.iterations.numpy()))

        def save(self, t):
            if t == self._saved_at:  # the run ended on a save step
                return
            self._saved_at = t
            import numpy as np

            gan = self.model
            folder = os.path.join(out_dir, "shadows")
            ema = gan.ema_generator.get_weights()
            for (label, d, c), model in zip(shadows, self.models):
                for s, w in zip(model.non_trainable_variables, gan.generator.non_trainable_variables):
                    s.assign(w)
                model.save(os.path.join(folder, f"{label}_step{t}.keras"))
                if gan.ema_rampup and d == gan.ema_decay and c == 10.0:
                    diff = max(float(np.abs(a - b).max()) for a, b in zip(model.get_weights(), ema))
                    print(f"shadow {label} at step {t}: largest difference from the run's EMA G {diff:.2e}",
                          flush=True)
            gan.generator.save(os.path.join(folder, f"raw_step{t}.keras"))
            gan.ema_generator.save(os.path.join(folder, f"ema_step{t}.keras"))
            print(f"shadows saved at step {t}", flush=True)

    return ShadowEMAs()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("recipe")
    p.add_argument("--out", required=True, help="run folder (must not hold a run)")
    p.add_argument("--shadow", action="append", required=True, metavar="LABEL=DECAY:C")
    p.add_argument("--save-every", type=int, default=5000, help="G steps between saves (default 5000)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    args = p.parse_args(argv)
    try:
        shadows = [parse_shadow(s) for s in args.shadow]
        if len({s[0] for s in shadows}) != len(shadows):
            raise ValueError(f"Expected distinct shadow labels. Received: {args.shadow}")
        if not 0 < args.save_every <= 10**8:
            raise ValueError(f"Expected --save-every in [1, 1e8]. Received: {args.save_every}")
        if os.path.exists(args.out):
            raise ValueError(f"Expected a new run folder (shadows are not resumed). Found: {args.out}")
        from recipes.train import resolve_config

        config = resolve_config(args.recipe, sets=args.set)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from vitgan_tf.training import run

    callback = shadow_callback(shadows, args.out, args.save_every)
    run.train(config, args.out, extra_callbacks=[callback])
    print(f"done: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
