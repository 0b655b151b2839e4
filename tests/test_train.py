"""ViTGAN train step values, run folder, NaN guard, resume after kill -9."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import types

import h5py
import keras
import numpy as np
import tensorflow as tf

import vitgan_tf  # noqa: F401  (registers the serializables for load_model)
from tests.test_case import TestCase
from vitgan_tf import data as data_lib
from vitgan_tf.lipschitz import jacobian_norm
from vitgan_tf.training.callbacks import LipschitzMonitor
from vitgan_tf.models import Discriminator, Generator
from vitgan_tf.runs import RunFolder
from vitgan_tf.training import ViTGAN, augment, callbacks, losses, run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_RUN = {
    "model": {"preset": "tiny"},
    "data": {"source": "synthetic", "batch_size": 8},
    "train": {"steps": 4, "log_every": 2, "sample_every": 2, "num_samples": 4},
}


def real_batch(batch=8, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, (batch, 16, 16, 3)).astype("float32")


def make_gan(**kwargs):
    gan = ViTGAN(Generator.from_architecture("tiny"), Discriminator.from_architecture("tiny"), seed=3, **kwargs)
    gan.compile(jit_compile=False)  # "auto" is XLA on a GPU, whose random draws differ
    return gan


def read_h5(path):
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return out


class TrainStepTest(TestCase):
    def test_every_trainable_variable_gets_a_nonzero_gradient(self):
        gan = make_gan(r1_gamma=1.0)
        d_grads, g_grads = gan.compute_gradients(tf.constant(real_batch()))
        for model, grads in ((gan.discriminator, d_grads), (gan.generator, g_grads)):
            self.assertEqual(len(grads), len(model.trainable_variables))
            for variable, grad in zip(model.trainable_variables, grads):
                self.assertIsNotNone(grad, variable.path)
                self.assertGreater(float(tf.reduce_max(tf.abs(grad))), 0.0, variable.path)

    def test_w_avg_is_the_running_mean_of_the_steps_styles(self):
        # G runs in training mode twice per step, on z_d (D's fakes) then on z_g, both with
        # the weights from before the step: w_avg is then two StyleGAN2 lerps from zero.
        gan = make_gan()
        gen = gan.generator
        draws = gan.sample_randomness(8)
        w_avg = np.zeros(gen.hidden_dim)
        for key in ("z_d", "z_g"):
            mean = gen.mapping(draws[key]).numpy().mean(0)
            w_avg = mean + 0.995 * (w_avg - mean)
        gan.apply_step(tf.constant(real_batch()), draws)
        self.assertAllClose(gen.w_avg.numpy(), w_avg, atol=1e-6)
        self.assertAllClose(gan.ema_generator.w_avg.numpy(), w_avg, atol=1e-6)  # copied

    def test_losses_equal_recomputation_with_the_same_randomness(self):
        # Without augmentation and bCR, d_loss = softplus(-D(x)) + softplus(D(G(z_d)))
        # before the step, and g_loss = softplus(-D'(G(z_g))) with the updated D'.
        gan = make_gan(augment_policy="", bcr_real=0.0, bcr_fake=0.0)
        twin = make_gan(augment_policy="", bcr_real=0.0, bcr_fake=0.0)
        for a, b in ((twin.generator, gan.generator), (twin.discriminator, gan.discriminator)):
            a.set_weights(b.get_weights())
        x = real_batch()
        draws = twin.sample_randomness(8)  # same seed: the draws the step will make
        expected_d = losses.nonsaturating_discriminator_loss(
            twin.discriminator(x, training=True),
            twin.discriminator(twin.generator(draws["z_d"]), training=True),
        )
        g_before = [w.copy() for w in gan.generator.get_weights()]
        ema_before = [w.copy() for w in gan.ema_generator.get_weights()]
        logs = gan.train_on_batch(x, return_dict=True)
        self.assertEqual(sorted(logs), sorted(["d_loss", "g_loss", "d_real", "d_fake", "bcr"]))
        self.assertAllClose(logs["d_loss"], expected_d, atol=1e-4)
        self.assertEqual(logs["bcr"], 0.0)
        expected_g = losses.nonsaturating_generator_loss(
            gan.discriminator(twin.generator(draws["z_g"]), training=False)
        )
        self.assertAllClose(logs["g_loss"], expected_g, atol=1e-4)
        # EMA with ramp-up after one G step: decay = (1 + 1) / (10 + 1).
        # Trainable weights are averaged; the non-trainable w_avg is copied.
        decay = 2.0 / 11.0
        g_after = gan.generator.get_weights()
        for ema, old, new, variable in zip(gan.ema_generator.get_weights(), ema_before, g_after,
                                           gan.generator.weights, strict=True):
            expected = new + decay * (old - new) if variable.trainable else new
            self.assertAllClose(ema, expected, atol=1e-6, msg=variable.path)
        self.assertTrue(any(np.abs(a - b).max() > 0 for a, b in zip(g_before, g_after)))

    def test_bcr_term_equals_recomputation_on_the_steps_own_draws(self):
        # With DiffAugment and bCR on: d_loss = adversarial + lambda * bCR term, where the
        # term is recomputed by a twin from the draws the step makes (same seed), and the
        # bCR weight changes d_loss by exactly lambda x that term.
        x = real_batch()
        logs, terms = {}, {}
        for lam in (0.0, 1.0, 10.0):
            keras.utils.set_random_seed(0)
            gan = make_gan(bcr_real=lam, bcr_fake=lam)
            keras.utils.set_random_seed(0)
            twin = make_gan(bcr_real=1.0, bcr_fake=1.0)
            for a, b in ((twin.generator, gan.generator), (twin.discriminator, gan.discriminator)):
                a.set_weights(b.get_weights())
            draws = twin.sample_randomness(8)
            d = lambda images: twin.discriminator(images, training=False).numpy()  # noqa: E731
            real_view = augment.apply_params(x, draws["aug_real"])
            fake_view = augment.apply_params(twin.generator(draws["z_d"], training=True),
                                             draws["aug_fake"])
            real_logits, fake_logits = d(real_view), d(fake_view)
            adversarial = float(losses.nonsaturating_discriminator_loss(real_logits, fake_logits))
            term = (np.mean((real_logits - d(augment.apply_params(real_view, draws["bcr_real"]))) ** 2)
                    + np.mean((fake_logits - d(augment.apply_params(fake_view, draws["bcr_fake"]))) ** 2))
            logs[lam] = gan.train_on_batch(x, return_dict=True)
            terms[lam] = term
            self.assertAllClose(logs[lam]["d_loss"], adversarial + lam * term, rtol=1e-4, atol=1e-6)
            self.assertAllClose(logs[lam]["bcr"], lam * term, rtol=1e-4, atol=1e-7)
        self.assertGreater(terms[10.0], 1e-6)  # the views really differ
        for lam in (1.0, 10.0):
            self.assertAllClose(logs[lam]["d_loss"] - logs[0.0]["d_loss"], lam * terms[lam],
                                rtol=1e-3, atol=1e-6)

    def test_bcr_tracker_and_isn_vectors_update(self):
        gan = make_gan()
        u_path = [v for v in gan.discriminator.non_trainable_variables if "vector_u" in v.path]
        u_before = [keras.ops.convert_to_numpy(v).copy() for v in u_path]
        logs = gan.train_on_batch(real_batch(), return_dict=True)
        self.assertGreater(logs["bcr"], 0.0)
        self.assertTrue(all(np.isfinite(list(logs.values()))))
        changed = [np.abs(keras.ops.convert_to_numpy(v) - b).max() > 0 for v, b in zip(u_path, u_before)]
        self.assertTrue(any(changed))

    def test_same_seed_same_run(self):
        results = []
        for _ in range(2):
            keras.utils.set_random_seed(0)
            gan = make_gan()
            gan.train_on_batch(real_batch())
            results.append(gan.train_on_batch(real_batch(), return_dict=True))
        self.assertEqual(results[0], results[1])

    def test_mixed_float16_wraps_both_optimizers(self):
        keras.mixed_precision.set_global_policy("mixed_float16")
        gan = make_gan()
        self.assertIsInstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
        self.assertIsInstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
        logs = gan.train_on_batch(real_batch(), return_dict=True)
        self.assertTrue(all(np.isfinite(list(logs.values()))))
        images = gan.ema_generator(np.zeros((2, gan.z_dim), "float32"))
        self.assertEqual(images.dtype, "float32")

    def test_one_step_counter_when_mixed_float16_skips_updates(self):
        # A loss scale of 2^100 overflows float16 gradients: the loss-scale optimizers skip
        # every update of these four steps, so their iteration counters stay at 0. Every
        # callback must still count the four steps run, as fit's schedule does.
        keras.mixed_precision.set_global_policy("mixed_float16")
        gan = ViTGAN(Generator.from_architecture("tiny"), Discriminator.from_architecture("tiny"), seed=3)
        scaled = lambda name: keras.optimizers.LossScaleOptimizer(  # noqa: E731
            keras.optimizers.Adam(1e-3, name=name), initial_scale=2.0**100)
        gan.compile(g_optimizer=scaled("g"), d_optimizer=scaled("d"))
        out = self.get_temp_dir()
        monitor = LipschitzMonitor(real_batch(2), every_n_steps=2, num_iterations=1)
        timer = callbacks.TrainTimeBudget()
        gan.fit(data_lib.make_dataset("synthetic", 16, 3, 8, seed=0), epochs=2, steps_per_epoch=2,
                verbose=0, callbacks=[
                    timer, monitor, callbacks.Checkpoint(os.path.join(out, "checkpoints")),
                    callbacks.MetricsLogger(os.path.join(out, "metrics.jsonl"), 8, timer),
                    callbacks.SampleGrid(out, 2, 4, seed=0)])
        self.assertEqual(int(gan.d_optimizer.iterations), 0)  # every update skipped
        self.assertEqual(callbacks.current_step(gan), 4)
        self.assertEqual([step for step, _ in monitor.history], [2, 4])
        self.assertEqual([r["step"] for r in callbacks.read_metrics(os.path.join(out, "metrics.jsonl"))],
                         [2, 4])
        self.assertEqual(RunFolder(out).checkpoint_step(), 4)
        self.assertEqual(sorted(n for n in os.listdir(out) if n.endswith(".png")),
                         ["samples_000002.png", "samples_000004.png"])

    def test_xla_step_trains(self):
        # XLA draws other random numbers (TF's auto-selected stateless RNG
        # algorithm differs under XLA), so the compiled step is checked to train
        # here; its values on given draws in test_xla_gradients_equal_eager_gradients.
        gan = ViTGAN(Generator.from_architecture("tiny"), Discriminator.from_architecture("tiny"), seed=3,
                     bcr_real=0.0, bcr_fake=0.0)
        gan.compile(jit_compile=True)
        self.assertTrue(gan.jit_compile)
        before = [w.copy() for w in gan.discriminator.get_weights()]
        logs = gan.train_on_batch(real_batch(), return_dict=True)
        self.assertTrue(all(np.isfinite(list(logs.values()))))
        self.assertTrue(all(np.abs(a - b).max() > 0 for a, b in
                            zip(before[:2], gan.discriminator.get_weights()[:2])))

    def test_xla_gradients_equal_eager_gradients(self):
        # The per-replica gradient functions compiled with XLA (as `compile(jit_compile=True)`
        # does under a strategy) against eager on the same weights and the same draws,
        # with bCR and DiffAugment on: D gradients, new ISN vectors, loss terms; G
        # gradients and loss.
        gan = ViTGAN(Generator.from_architecture("tiny"), Discriminator.from_architecture("tiny"), seed=3)
        gan.compile()
        self.assertTrue(gan.use_bcr and augment.parse_policy(gan.augment_policy))
        disc = gan.discriminator
        # ISN's u starts as the exact top singular vector, which one power iteration
        # hardly moves: start from random unit vectors so the new vectors differ.
        rng = np.random.default_rng(0)
        for variable in disc.non_trainable_variables:
            if "vector_u" in variable.path:
                u = rng.normal(size=variable.shape)
                variable.assign((u / np.linalg.norm(u)).astype("float32"))
        real = tf.constant(real_batch())
        draws = gan.sample_randomness(8)
        state = [v.numpy().copy() for v in disc.non_trainable_variables]
        eager_d = gan._discriminator_gradients(real, draws, 1)
        xla_d = tf.function(gan._discriminator_gradients, jit_compile=True)(real, draws, 1)
        eager_g = gan._generator_gradients(draws, 1)
        xla_g = tf.function(gan._generator_gradients, jit_compile=True)(draws, 1)
        # Neither call assigned the ISN vectors: both ran from the same state.
        for variable, value in zip(disc.non_trainable_variables, state, strict=True):
            self.assertAllEqual(variable.numpy(), value, msg=variable.path)

        def assert_close(name, eager, xla):
            self.assertEqual(len(eager), len(xla), msg=name)
            for i, (a, b) in enumerate(zip(eager, xla)):
                self.assertEqual(a is None, b is None, msg=f"{name}[{i}]")
                if a is not None:
                    self.assertAllClose(a, b, atol=1e-4, rtol=1e-3, msg=f"{name}[{i}]")

        (d_grads, updates, g_updates, stats), (xla_grads, xla_updates, xla_g_updates, xla_stats) = eager_d, xla_d
        assert_close("g_updates (w_avg) of D's fakes", g_updates, xla_g_updates)
        self.assertLen(d_grads, len(disc.trainable_variables))
        self.assertTrue(all(float(tf.reduce_max(tf.abs(g))) > 0 for g in d_grads))
        assert_close("d_grads", d_grads, xla_grads)
        # Training-mode D advanced its power iteration: every u moved (but the logit
        # layer's, a 1-vector: always +-1).
        moved = [np.abs(np.asarray(u) - old).max() for u, old, v in
                 zip(updates, state, disc.non_trainable_variables)
                 if "vector_u" in v.path and old.size > 1]
        self.assertNotEmpty(moved)
        self.assertGreater(min(moved), 1e-2)
        assert_close("isn_updates", updates, xla_updates)
        self.assertGreater(float(stats[3]), 0.0)  # the bCR term is on
        assert_close("d_stats (d_loss, d_real, d_fake, bcr)", stats, xla_stats)
        (g_grads, g_loss, g_updates), (xla_g_grads, xla_g_loss, xla_g_updates) = eager_g, xla_g
        assert_close("g_updates (w_avg) of G's step", g_updates, xla_g_updates)
        self.assertTrue(all(np.abs(np.asarray(u)).max() > 0 for u in g_updates))
        self.assertLen(g_grads, len(gan.generator.trainable_variables))
        assert_close("g_grads", g_grads, xla_g_grads)
        self.assertAllClose(g_loss, xla_g_loss, atol=1e-5, rtol=1e-5)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "bcr_real=-1"):
            make_gan(bcr_real=-1)
        with self.assertRaisesRegex(ValueError, "ema_decay=1.5"):
            make_gan(ema_decay=1.5)
        with self.assertRaisesRegex(ValueError, "shapes differ"):
            ViTGAN(Generator.from_architecture("tiny"), Discriminator.from_architecture("tiny", channels=1))


class RunFolderTest(TestCase):
    def test_few_step_fit_writes_a_run_folder(self):
        out = os.path.join(self.get_temp_dir(), "run")
        gan = run.train(TINY_RUN, out, verbose=0)
        with open(os.path.join(out, "config.json")) as f:
            self.assertEqual(json.load(f)["train"]["steps"], 4)
        records = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
        self.assertEqual([r["step"] for r in records], [2, 4])
        for record in records:
            self.assertTrue(all(np.isfinite(record[k]) for k in ("d_loss", "g_loss", "bcr")))
        for step in (2, 4):
            grid = np.asarray(__import__("PIL.Image").Image.open(
                os.path.join(out, f"samples_{step:06d}.png")))
            self.assertEqual(grid.shape, (32, 32, 3))  # 4 samples of 16x16 in a 2x2 grid
        z = np.random.RandomState(0).normal(size=(2, gan.z_dim)).astype("float32")
        for name in ("generator", "discriminator", "ema_generator"):
            path = os.path.join(out, "checkpoints", f"{name}.keras")
            restored = keras.saving.load_model(path, safe_mode=True)
            inputs = z if "generator" in name else real_batch(2)
            self.assertAllClose(restored(inputs), getattr(gan, name)(inputs), atol=1e-5)
        self.assertEqual(json.load(open(os.path.join(out, "checkpoints", "state.json"))), {"step": 4})
        self.assertTrue(os.listdir(os.path.join(out, "tensorboard")))
        self.assertTrue(os.listdir(os.path.join(out, "tensorboard", "lipschitz")))
        # D's Jacobian norm at the last log step is in the JSONL: recompute it on the same batch.
        fixed = next(iter(data_lib.make_dataset(TINY_RUN["data"]["source"], 16, 3,
                                                run.LIPSCHITZ_BATCH, seed=TINY_RUN.get("seed", 0))))
        expected = float(tf.reduce_max(jacobian_norm(
            lambda x: gan.discriminator(x, training=False), fixed, num_iterations=10)))
        self.assertAllClose(records[-1]["lipschitz_d"], expected, rtol=1e-3)
        self.assertFalse([n for n in os.listdir(out) if n.startswith(".tmp")])
        # Same config again: resumes with nothing left to do, so the run's files stay as they
        # are; another config: refused.
        # Checkpoints hold the three models and their step, nothing that nothing reads.
        self.assertEqual(sorted(os.listdir(os.path.join(out, "checkpoints"))),
                         ["discriminator.keras", "ema_generator.keras", "generator.keras", "state.json"])
        kept = ("metrics.jsonl", os.path.join("checkpoints", "state.json"),
                os.path.join("backup", "latest.weights.h5"))
        before = {name: open(os.path.join(out, name), "rb").read() for name in kept}
        run.train(TINY_RUN, out, verbose=0)
        for name in kept:
            self.assertEqual(open(os.path.join(out, name), "rb").read(), before[name], name)
        with self.assertRaisesRegex(FileExistsError, "different run"):
            run.train(run.merge(TINY_RUN, {"seed": 1}), out, verbose=0)
        # A config.json written before a key existed (here train.deterministic) still resumes.
        written = json.load(open(os.path.join(out, "config.json")))
        del written["train"]["deterministic"]
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(written, f)
        run.train(TINY_RUN, out, verbose=0)
        # Without its backup the run cannot resume: starting over would overwrite step 4.
        shutil.rmtree(os.path.join(out, "backup"))
        with self.assertRaisesRegex(FileExistsError, "checkpoints at step 4 .* no backup"):
            run.train(run.merge(TINY_RUN, {"train": {"steps": 6}}), out, verbose=0)
        for name in kept[:2]:  # nothing written, config.json neither
            self.assertEqual(open(os.path.join(out, name), "rb").read(), before[name], name)
        with open(os.path.join(out, "config.json")) as f:
            self.assertEqual(json.load(f)["train"]["steps"], 4)

    def test_train_minutes_stops_at_an_interval_end_and_a_spent_budget_trains_no_more(self):
        # A budget far below one step: the run stops at the first log_every boundary
        # (step 2 of an upper bound of 1000), and re-running the same config trains nothing.
        config = run.merge(TINY_RUN, {"train": {"steps": 1000, "train_minutes": 1e-5}})
        out = os.path.join(self.get_temp_dir(), "budget")
        gan = run.train(config, out, verbose=0)
        self.assertEqual(callbacks.current_step(gan), 2)
        records = callbacks.read_metrics(os.path.join(out, "metrics.jsonl"))
        self.assertEqual([r["step"] for r in records], [2])
        self.assertEqual(json.load(open(os.path.join(out, "checkpoints", "state.json"))), {"step": 2})
        before = {name: os.path.getmtime(os.path.join(out, name))
                  for name in ("metrics.jsonl", "checkpoints/state.json")}
        again = run.train(config, out, verbose=0)
        self.assertEqual(callbacks.current_step(again), 0)  # not even restored: nothing to do
        self.assertEqual(before, {name: os.path.getmtime(os.path.join(out, name)) for name in before})
        # A larger budget may be given on resume (train.train_minutes is resumable): it trains on.
        more = run.merge(config, {"train": {"train_minutes": 1e-5 + 1e-9 + records[0]["train_time"] / 60}})
        resumed = run.train(more, out, verbose=0)
        self.assertEqual(callbacks.current_step(resumed), 4)
        with self.assertRaisesRegex(ValueError, "train_minutes"):
            run.validate(run.merge(run.base_config(), {"train": {"train_minutes": -1}}))

    def test_optimizer_values_out_of_range_are_refused_by_name(self):
        base = run.base_config()  # the tiny preset on synthetic data, no evaluation
        for key, bad in (("g_lr", 0.0), ("d_lr", -1e-3), ("g_lr", float("nan")), ("d_lr", float("inf")),
                         ("beta_1", 1.0), ("beta_1", -1.0), ("beta_1", float("nan")),
                         ("beta_2", 1.0), ("beta_2", -0.1)):
            with self.subTest(key=key, bad=bad), self.assertRaisesRegex(ValueError, f"optimizer.{key}"):
                run.validate(run.merge(base, {"optimizer": {key: bad}}))
        # Negative momentum is a valid setting, and reaches both optimizers.
        config = run.merge(base, {"optimizer": {"beta_1": -0.5}})
        run.validate(config)
        gan = run.build_gan(config)
        self.assertEqual((gan.g_optimizer.beta_1, gan.d_optimizer.beta_1), (-0.5, -0.5))

    def test_nan_guard_stops_and_keeps_the_last_good_checkpoint(self):
        gan = make_gan()
        good = real_batch()
        bad = good.copy()
        bad[0, 0, 0, 0] = np.nan
        dataset = tf.data.Dataset.from_tensor_slices(np.stack([good, good, bad, good])).repeat()
        folder = os.path.join(self.get_temp_dir(), "checkpoints")
        with self.assertRaisesRegex(FloatingPointError, r"step 3.*last good checkpoint \(step 2\)"):
            gan.fit(dataset, epochs=2, steps_per_epoch=2, verbose=0,
                    callbacks=[callbacks.NaNGuard(folder), callbacks.Checkpoint(folder)])
        self.assertEqual(json.load(open(os.path.join(folder, "state.json"))), {"step": 2})
        restored = keras.saving.load_model(os.path.join(folder, "generator.keras"))
        self.assertTrue(all(np.all(np.isfinite(w)) for w in restored.get_weights()))


class MetricsFileTest(TestCase):
    def test_a_torn_last_record_is_dropped_and_a_corrupt_one_refused(self):
        path = os.path.join(self.get_temp_dir(), "metrics.jsonl")
        with open(path, "w") as f:  # a kill while appending step 3's record
            f.write('{"step": 1}\n\n{"step": 2}\n{"step": 3, "d_lo')
        with self.assertWarnsRegex(UserWarning, r"metrics.jsonl:4: dropping an incomplete"):
            self.assertEqual(callbacks.read_metrics(path), [{"step": 1}, {"step": 2}])
        with self.assertWarnsRegex(UserWarning, "incomplete"):
            RunFolder(os.path.dirname(path)).truncate_metrics(2)  # what a resume at step 2 does
        with open(path) as f:
            self.assertEqual(f.read(), '{"step": 1}\n{"step": 2}\n')
        with open(path, "w") as f:
            f.write('{"step": 1}\n{"st\n{"step": 3}\n')
        with self.assertRaisesRegex(ValueError, r"metrics.jsonl:2 is not a JSON record"):
            callbacks.read_metrics(path)

    def test_train_time_continues_from_a_record_that_predates_it(self):
        path = os.path.join(self.get_temp_dir(), "old_metrics.jsonl")
        with open(path, "w") as f:
            f.write('{"step": 100, "time": 50.0}\n')
        timer = callbacks.TrainTimeBudget()
        logger = callbacks.MetricsLogger(path, images_per_step=2, timer=timer)
        logger.set_model(types.SimpleNamespace(train_steps=200))
        with self.assertWarnsRegex(UserWarning, r"no train_time; .*wall time \(50.0 s\)"):
            logger.on_train_begin()
        timer.elapsed = 3.0  # this session's train steps
        logger.on_epoch_end(1, {"d_loss": 1.0})
        record = callbacks.read_metrics(path)[-1]
        self.assertEqual((record["step"], record["images"]), (200, 400))
        self.assertBetween(record["time"], 50.0, 60.0)
        self.assertAlmostEqual(record["train_time"], 50.0 + 3.0)


RESUME_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import keras
    sys.path.insert(0, {repo!r})
    from vitgan_tf.training import run
    config = {config!r}

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == int(os.environ.get("KILL_AFTER_EPOCH", "0")):
                os.kill(os.getpid(), signal.SIGKILL)

    for out in sys.argv[1:]:
        run.train(config, out, extra_callbacks=[Kill()], verbose=0)
""")


class ResumeTest(TestCase):
    def _run(self, script, *outs, kill_after=0):
        env = dict(os.environ, KILL_AFTER_EPOCH=str(kill_after), TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.Popen([sys.executable, script, *outs], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            output, _ = proc.communicate(timeout=240)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return proc.returncode, output.decode(errors="replace")

    def test_four_steps_equal_two_killed_restored_two(self):
        config = run.merge(TINY_RUN, {"train": {"log_every": 1, "sample_every": 100}})
        script = os.path.join(self.get_temp_dir(), "resume_run.py")
        with open(script, "w") as f:
            f.write(RESUME_SCRIPT.format(repo=REPO, config=config))
        straight = os.path.join(self.get_temp_dir(), "straight")
        resumed = os.path.join(self.get_temp_dir(), "resumed")
        code, log = self._run(script, resumed, kill_after=2)
        self.assertEqual(code, -signal.SIGKILL, log)
        self.assertEqual(json.load(open(os.path.join(resumed, "checkpoints", "state.json"))),
                         {"step": 2})
        # The resumed run, then the straight one in the same process (a process start saved;
        # two runs in one process give the same bits: DeterministicModeTest).
        code, log = self._run(script, resumed, straight)
        self.assertEqual(code, 0, log)
        # The backups hold every variable: G, D, EMA G, both optimizers, the seed state.
        a = read_h5(os.path.join(straight, "backup", "latest.weights.h5"))
        b = read_h5(os.path.join(resumed, "backup", "latest.weights.h5"))
        self.assertEqual(sorted(a), sorted(b))
        self.assertTrue(any("optimizer" in key for key in a))
        self.assertEqual([int(v) for k, v in a.items() if k.endswith("train_steps")], [4])
        for key in a:
            self.assertAllClose(a[key], b[key], atol=1e-5, rtol=0, msg=key)
        records = [json.loads(line) for line in open(os.path.join(resumed, "metrics.jsonl"))]
        self.assertEqual([r["step"] for r in records], [1, 2, 3, 4])
        self.assertEqual([r["images"] for r in records], [8, 16, 24, 32])
        # Times continue from the last record after the resume.
        for key in ("time", "train_time"):
            times = [r[key] for r in records]
            self.assertEqual(times, sorted(times), key)
            self.assertGreater(times[2], times[1], key)


DETERMINISM_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config
    from vitgan_tf.training import run
    assert not tf_config.is_op_determinism_enabled()
    for out in sys.argv[1:]:
        run.train({config!r}, out, verbose=0)
    assert tf_config.is_op_determinism_enabled()
""")


class DeterministicModeTest(TestCase):
    def test_two_runs_give_the_same_bits(self):
        # One process (op determinism is process-wide), two runs of one config.
        config = run.merge(TINY_RUN, {"train": {"deterministic": True, "jit_compile": False},
                                      "gan": {"bcr_real": 1.0, "bcr_fake": 1.0}})
        script = os.path.join(self.get_temp_dir(), "deterministic.py")
        with open(script, "w") as f:
            f.write(DETERMINISM_SCRIPT.format(repo=REPO, config=config))
        outs = [os.path.join(self.get_temp_dir(), name) for name in ("a", "b")]
        proc = subprocess.run([sys.executable, script, *outs], capture_output=True, text=True,
                              timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        a, b = (read_h5(os.path.join(out, "backup", "latest.weights.h5")) for out in outs)
        self.assertEqual(sorted(a), sorted(b))
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        losses = [[r["d_loss"] for r in callbacks.read_metrics(os.path.join(out, "metrics.jsonl"))]
                  for out in outs]
        self.assertEqual(losses[0], losses[1])
