"""bench/ablation.py: its switches change the model, a smoke run, bad input; `TrainTimeBudget`."""

import contextlib
import importlib.util
import io
import json
import os

import keras
import numpy as np
from PIL import Image

from tests.test_case import TestCase
from vitgan_tf import layers
from vitgan_tf.training import augment, run
from vitgan_tf.training.callbacks import TrainTimeBudget

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION_MNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def _load_ablation():
    spec = importlib.util.spec_from_file_location("bench_ablation", os.path.join(ROOT, "bench", "ablation.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ablation = _load_ablation()


def pooled_pixels(images):
    """Cheap stand-in for Inception in the smoke test: 4x4 average-pooled pixels."""
    images = np.asarray(images)
    x = images / 127.5 - 1.0 if images.dtype == np.uint8 else images.astype("float32")
    n, h, w, c = x.shape
    return x.reshape(n, 4, h // 4, 4, w // 4, c).mean(axis=(2, 4)).reshape(n, -1)


def smoke_config():
    return ablation.resolve_config(ablation.parse_args(["--smoke"]))


def all_layers(model):
    """Every layer nested in `model` (Keras 3 `_flatten_layers`, as tests/test_models.py)."""
    return list(model._flatten_layers(include_self=False, recursive=True))


def top_singular_value(kernel):
    kernel = keras.ops.convert_to_numpy(kernel)
    return np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]


def run_main(argv, extractor=None):
    """(exit code, stderr) of `ablation.main(argv)`."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = ablation.main(argv, extractor=extractor)
    return code, stderr.getvalue()


class VariantSwitchTest(TestCase):
    """Each variant, built by `run.build_gan` from the tiny --smoke config, has its switch."""

    def build(self, name):
        return run.build_gan(ablation.variant_config(smoke_config(), name))

    def test_variants_differ_from_full_only_by_their_overrides(self):
        config = smoke_config()
        full = ablation.variant_config(config, "full")
        def flat(tree, prefix=""):
            out = {}
            for key, value in tree.items():
                if isinstance(value, dict) and value:
                    out.update(flat(value, f"{prefix}{key}."))
                else:
                    out[f"{prefix}{key}"] = value
            return out

        full_flat = flat(full)
        for name, (_, overrides) in ablation.VARIANTS.items():
            variant = flat(ablation.variant_config(config, name))
            changed = {k: v for k, v in variant.items() if full_flat.get(k, object()) != v}
            # Exactly the variant's switches changed, each to a new value (none is a no-op).
            self.assertEqual(changed, flat(overrides), name)
            self.assertEqual(set(variant), set(full_flat) | set(changed), name)
        # Same data, model size and seed for all.
        self.assertEqual(full["data"], config["data"])
        self.assertEqual(full["model"]["shared"], config["model"]["shared"])

    def test_full_is_l2_attention_with_isn(self):
        gan = self.build("full")
        disc = gan.discriminator
        self.assertLen([l for l in all_layers(disc) if isinstance(l, layers.L2MultiHeadAttention)], disc.depth)
        self.assertEmpty([l for l in all_layers(disc) if isinstance(l, layers.DotProductMultiHeadAttention)])
        wrappers = [l for l in all_layers(disc) if isinstance(l, layers.ImprovedSpectralNormalization)]
        self.assertGreaterEqual(len(wrappers), 4 * disc.depth + 2)  # qk, v, out, 2 MLP per block; patches, logit
        for wrapper in wrappers:
            self.assertTrue(wrapper.use_init_scale)
            # Not trained: the kernel is still W_init.
            self.assertAllClose(float(wrapper.sigma_init.numpy()), top_singular_value(wrapper.kernel), rtol=1e-5)
        self.assertEqual((gan.bcr_real, gan.bcr_fake), (10.0, 10.0))
        self.assertEqual(augment.parse_policy(gan.augment_policy),
                         augment.parse_policy("color,translation,cutout,scaling"))
        self.assertGreater(gan.augment_p, 0.0)

    def test_dot_attention_has_separate_query_and_key(self):
        disc = self.build("dot_attention").discriminator
        self.assertEqual(disc.attention, "dot")
        self.assertEmpty([l for l in all_layers(disc) if isinstance(l, layers.L2MultiHeadAttention)])
        attention = [l for l in all_layers(disc) if isinstance(l, layers.DotProductMultiHeadAttention)]
        self.assertLen(attention, disc.depth)
        for attn in attention:
            kernel = keras.ops.convert_to_numpy(attn.qkv_dense.kernel)
            size = attn.num_heads * attn.key_dim
            query, key = kernel[:, :size], kernel[:, size:2 * size]
            self.assertGreater(np.abs(query - key).max(), 1e-3)  # no tied W_q = W_k
            self.assertIsInstance(attn.qkv_dense, layers.ImprovedSpectralNormalization)  # ISN kept

    def test_plain_sn_has_unit_spectral_norm(self):
        disc = self.build("plain_sn").discriminator
        self.assertLen([l for l in all_layers(disc) if isinstance(l, layers.L2MultiHeadAttention)], disc.depth)
        wrappers = [l for l in all_layers(disc) if isinstance(l, layers.ImprovedSpectralNormalization)]
        self.assertNotEmpty(wrappers)
        images = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 1)).astype("float32")
        for _ in range(3):  # power iterations
            disc(images, training=True)
        for wrapper in wrappers:
            self.assertFalse(wrapper.use_init_scale)
            self.assertEqual(float(wrapper.sigma_init.numpy()), 1.0)
            self.assertAllClose(top_singular_value(wrapper.normalized_kernel()), 1.0, rtol=1e-3)
        raw = [top_singular_value(w.kernel) for w in wrappers]
        self.assertGreater(max(abs(s - 1.0) for s in raw), 0.1)  # the raw kernels are not unit-norm

    def test_no_bcr_has_zero_weights(self):
        gan = self.build("no_bcr")
        self.assertEqual((gan.bcr_real, gan.bcr_fake), (0.0, 0.0))
        self.assertFalse(gan.use_bcr)
        self.assertNotEqual(gan.augment_policy, "")
        self.assertNotIn("bcr_real", gan.sample_randomness(2))

    def test_no_diffaugment_has_an_empty_policy(self):
        gan = self.build("no_diffaugment")
        self.assertEqual(gan.augment_policy, "")
        self.assertEmpty(augment.parse_policy(gan.augment_policy))
        self.assertEqual(gan.sample_randomness(2)["aug_real"], {})
        self.assertTrue(gan.use_bcr)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class TrainTimeBudgetTest(TestCase):
    def run_steps(self, budget, clock, durations, between=100.0):
        """Feeds the callback batches of the given durations (with untimed gaps)."""
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        budget.set_model(model)
        done = 0
        for batch, duration in enumerate(durations):
            budget.on_train_batch_begin(batch)
            clock.now += duration
            budget.on_train_batch_end(batch)
            clock.now += between  # evaluation, checkpoints: not counted
            done += 1
            if getattr(model, "stop_training", False):
                break
        return done

    def test_stops_at_the_batch_that_reaches_the_budget(self):
        clock = FakeClock()
        budget = TrainTimeBudget(10.0, clock=clock)
        done = self.run_steps(budget, clock, [4.0, 3.0, 2.5, 3.0, 1.0])
        self.assertEqual(done, 4)
        self.assertEqual(budget.steps, 4)
        self.assertAllClose(budget.elapsed, 12.5)
        self.assertEqual(budget.max_step_seconds, 4.0)
        self.assertTrue(budget.exhausted)
        self.assertLessEqual(budget.elapsed, budget.seconds + budget.max_step_seconds)

    def test_none_only_measures(self):
        clock = FakeClock()
        budget = TrainTimeBudget(clock=clock)
        self.assertEqual(self.run_steps(budget, clock, [5.0] * 4), 4)
        self.assertFalse(budget.exhausted)
        self.assertAllClose(budget.elapsed, 20.0)

    def test_bad_budget(self):
        for bad in (0, -1.0, "10"):
            with self.assertRaisesRegex(ValueError, f"seconds={bad!r}"):
                TrainTimeBudget(bad)


class AblationScriptTest(TestCase):
    def test_smoke_run_resume_and_a_crashing_variant(self):
        if not os.path.isfile(FASHION_MNIST):
            self.skipTest("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
        out = os.path.join(self.get_temp_dir(), "ablation")
        names = ["full", "no_diffaugment"]
        code, err = run_main(["--smoke", "--out", out, "--variants", ",".join(names)], pooled_pixels)
        self.assertEqual(code, 0, err)

        with open(os.path.join(out, "results.json")) as f:
            results = json.load(f)
        self.assertEqual(list(results["variants"]), names)
        self.assertEqual(results["settings"]["features"], "pooled_pixels")
        batch = results["config"]["data"]["batch_size"]
        for name in names:
            r = results["variants"][name]
            self.assertEqual(r["status"], "done", r.get("traceback"))
            self.assertGreaterEqual(r["steps"], 1)
            self.assertEqual(r["images_seen"], r["steps"] * batch)
            # The budget is honoured: training stops within one step of it.
            self.assertLessEqual(r["train_seconds"], r["budget_seconds"] + r["max_step_seconds"] + 1e-3)
            self.assertTrue(r["final"]["final"])
            self.assertEqual(r["curve"][-1], r["final"])
            self.assertTrue(np.isfinite(r["final"]["kid_x1000"]) and np.isfinite(r["final"]["fid"]))
            self.assertEqual(r["final"]["kid_samples"], 48)
            self.assertTrue(all(p["kid_samples"] == 24 for p in r["curve"][:-1]))
            self.assertNotEmpty(r["losses"])
            self.assertIn("d_loss", r["losses"][-1])
            self.assertEqual(r["final_d_loss"], r["losses"][-1]["d_loss"])
            self.assertEqual(r["lipschitz"][-1]["step"], r["steps"])
            self.assertGreater(r["final_lipschitz"], 0.0)
            with Image.open(os.path.join(out, f"samples_{name}.png")) as grid:
                self.assertEqual(grid.size, (8 * 32, 8 * 32))
        self.assertEqual(results["variants"]["no_diffaugment"]["config"]["gan"]["augment_policy"], "")

        with open(os.path.join(out, "ablation.md")) as f:
            table = f.read()
        for name in names:
            self.assertEqual(sum(line.startswith(f"| {name} | ") for line in table.splitlines()), 1)
        self.assertIn("--smoke --out", table)
        self.assertIn("(d_vs_time.png)", table)
        for name in ("kid_vs_time.png", "d_vs_time.png"):
            with Image.open(os.path.join(out, name)) as plot:
                plot.verify()
                self.assertEqual(plot.format, "PNG")

        # --resume with every asked variant finished trains nothing, keeps the results (and the
        # command that made them) and rewrites the table and plots.
        for name in ("ablation.md", "kid_vs_time.png", "d_vs_time.png"):
            os.remove(os.path.join(out, name))
        code, err = run_main(["--smoke", "--out", out, "--resume", "--variants", names[0]], pooled_pixels)
        self.assertEqual(code, 0, err)
        with open(os.path.join(out, "results.json")) as f:
            self.assertEqual(json.load(f), results)
        with open(os.path.join(out, "ablation.md")) as f:
            self.assertEqual(f.read(), table)
        for name in ("kid_vs_time.png", "d_vs_time.png"):
            self.assertTrue(os.path.isfile(os.path.join(out, name)), name)

        # Existing results are not clobbered.
        code, err = run_main(["--smoke", "--out", out, "--variants", "full"], pooled_pixels)
        self.assertEqual(code, 2)
        self.assertIn("results.json exists", err)

        # --resume keeps finished variants; a crash of another is recorded, not fatal.
        original = ablation.run_variant

        def crash(name, *args, **kwargs):
            raise RuntimeError(f"simulated crash of {name}")

        ablation.run_variant = crash
        try:
            code, err = run_main(["--smoke", "--out", out, "--resume",
                                  "--variants", "full,no_diffaugment,no_bcr"], pooled_pixels)
        finally:
            ablation.run_variant = original
        self.assertEqual(code, 1)
        self.assertIn("simulated crash of no_bcr", err)
        with open(os.path.join(out, "results.json")) as f:
            resumed = json.load(f)
        for name in names:
            self.assertEqual(resumed["variants"][name], results["variants"][name])
        self.assertEqual(resumed["variants"]["no_bcr"]["status"], "failed")
        self.assertEqual(resumed["earlier_commands"], [results["command"]])
        with open(os.path.join(out, "ablation.md")) as f:
            self.assertIn("| no_bcr | failed: RuntimeError: simulated crash of no_bcr |", f.read())


class BadInputTest(TestCase):
    def test_unknown_variant(self):
        code, err = run_main(["--smoke", "--out", self.get_temp_dir(), "--variants", "full,nope"])
        self.assertEqual(code, 2)
        self.assertIn("Unknown variant 'nope'", err)

    def test_kid_samples_below_2000_without_smoke(self):
        code, err = run_main(["--out", self.get_temp_dir(), "--kid-samples", "500"])
        self.assertEqual(code, 2)
        self.assertIn("--kid-samples 500 is below 2000", err)

    def test_existing_results_without_overwrite(self):
        out = self.get_temp_dir()
        with open(os.path.join(out, "results.json"), "w") as f:
            f.write("{}")
        code, err = run_main(["--smoke", "--out", out])
        self.assertEqual(code, 2)
        self.assertIn("results.json exists", err)
        self.assertIn("--overwrite", err)

    def test_out_is_a_file(self):
        path = os.path.join(self.get_temp_dir(), "a_file")
        open(path, "w").close()
        code, err = run_main(["--smoke", "--out", path])
        self.assertEqual(code, 2)
        self.assertIn(repr(path), err)

    def test_resume_with_other_settings(self):
        out = self.get_temp_dir()
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump({"settings": {"minutes": 99.0}, "config": {}, "variants": {}}, f)
        code, err = run_main(["--smoke", "--out", out, "--resume"], pooled_pixels)
        self.assertEqual(code, 2)
        self.assertIn("other settings", err)

    def test_bad_set_and_budget(self):
        code, err = run_main(["--smoke", "--out", self.get_temp_dir(), "--set", "gan.nope=1"])
        self.assertEqual((code, "Unknown config key 'gan.nope'" in err), (2, True), err)
        code, err = run_main(["--smoke", "--out", self.get_temp_dir(), "--minutes", "0"])
        self.assertEqual(code, 2)
        self.assertIn("--minutes > 0. Received: 0.0", err)
        code, err = run_main(["--smoke", "--out", self.get_temp_dir(), "--set", "data.source=synthetic"],
                             pooled_pixels)
        self.assertEqual(code, 2)
        self.assertIn("data.source='synthetic' has no real reference", err)
        code, err = run_main(["--out", self.get_temp_dir(), "--curve-samples", "3000"])
        self.assertEqual(code, 2)
        self.assertIn("--curve-samples <= --kid-samples 2000. Received: 3000", err)
