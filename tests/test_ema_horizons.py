"""bench/ema_horizons.py: shadow EMAs of one run against a numpy recurrence and the run's EMA."""

import contextlib
import io
import os

import keras
import numpy as np

from tests.bench_scripts import load_bench_script
from tests.test_case import TestCase
from vitgan_tf.training import run

ema_horizons = load_bench_script("ema_horizons")

TINY_RUN = {
    "model": {"preset": "tiny"},
    "data": {"source": "synthetic", "batch_size": 8},
    "train": {"steps": 5, "log_every": 5, "sample_every": 100, "num_samples": 4},
}


class Recorder(keras.callbacks.Callback):
    """G's trainable weights at the start and after every step."""

    def on_train_begin(self, logs=None):
        self.weights = [[v.numpy() for v in self.model.generator.trainable_variables]]

    def on_train_batch_end(self, batch, logs=None):
        self.weights.append([v.numpy() for v in self.model.generator.trainable_variables])


class EmaHorizonsTest(TestCase):
    def test_shadows_follow_the_recurrence_and_the_runs_own_ema(self):
        out = os.path.join(self.get_temp_dir(), "run")
        shadows = [("same", 0.999, 10.0), ("long", 0.8, 2.0)]
        recorder = Recorder()
        gan = run.train(TINY_RUN, out, verbose=0,
                        extra_callbacks=[recorder, ema_horizons.shadow_callback(shadows, out, 2)])
        folder = os.path.join(out, "shadows")
        self.assertEqual(sorted(os.listdir(folder)),
                         sorted(f"{n}_step{t}.keras" for n in ("same", "long", "raw", "ema") for t in (2, 4, 5)))

        def trainable(name):
            model = keras.saving.load_model(os.path.join(folder, name), safe_mode=True)
            return [v.numpy() for v in model.trainable_variables]

        # The run's own EMA is (0.999, C = 10): the shadow with those numbers equals it.
        for got, want in zip(trainable("same_step5.keras"), trainable("ema_step5.keras")):
            np.testing.assert_array_equal(got, want)
        # (0.8, C = 2) against the recurrence in float64 over the recorded G weights.
        expected = [w.astype(np.float64) for w in recorder.weights[0]]
        for t, weights in enumerate(recorder.weights[1:], start=1):
            decay = min(0.8, (1.0 + t) / (2.0 + t))
            expected = [w + decay * (s - w) for s, w in zip(expected, weights)]
            if t == 4:
                for got, want in zip(trainable("long_step4.keras"), expected):
                    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        for got, want in zip(trainable("long_step5.keras"), expected):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        # G moved, so the check above is not trivial.
        self.assertGreater(max(np.abs(a - b).max() for a, b in zip(recorder.weights[0], recorder.weights[-1])), 1e-4)
        self.assertEqual(int(gan.g_optimizer.iterations.numpy()), 5)

    def test_bad_shadow_specs_name_the_problem(self):
        self.assertEqual(ema_horizons.parse_shadow("a_1=0.999:10"), ("a_1", 0.999, 10.0))
        for bad in ("a", "a=0.9", "=0.9:10", "raw=0.9:10", "a b=0.9:10", "a=x:10", "a=1.0:10", "a=0.9:0.5"):
            with self.assertRaisesRegex(ValueError, "--shadow|LABEL"):
                ema_horizons.parse_shadow(bad)

    def test_main_refuses_bad_arguments_with_one_line(self):
        existing = self.get_temp_dir()
        new = os.path.join(existing, "new")
        for argv, message in (
            (["--out", existing, "--shadow", "a=0.9:10"], "Expected a new run folder"),
            (["--out", new, "--shadow", "a=0.9:10", "--shadow", "a=0.99:10"], "distinct shadow labels"),
            (["--out", new, "--shadow", "a=0.9:10", "--save-every", "0"], "--save-every"),
        ):
            with contextlib.redirect_stderr(io.StringIO()) as err:
                self.assertEqual(ema_horizons.main(["fashion_mnist", *argv]), 2)
            self.assertRegex(err.getvalue(), f"^error: .*{message}")
            self.assertEqual(err.getvalue().count("\n"), 1)
        self.assertFalse(os.path.exists(new))
