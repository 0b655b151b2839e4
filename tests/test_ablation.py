"""recipes/ablation/: its switches change the model, smoke runs (seeds, summary, resume), bad input."""

import contextlib
import io
import json
import os
import shutil
import tempfile
from unittest import mock

import keras
import numpy as np
from PIL import Image

from recipes import ablation
from tests.pixel_features import pooled_pixels
from tests.test_case import TestCase
from vitgan_tf import layers
from vitgan_tf.sources import FASHION_MNIST_DIR, FASHION_MNIST_FILES
from vitgan_tf.training import augment, run

FASHION_MNIST = os.path.join(FASHION_MNIST_DIR, FASHION_MNIST_FILES["train"])  # Debian package
OTHER_CPU = "Other CPU (family 1, model 1, avx512_bf16 no)"


def smoke_config():
    return ablation.resolve_config(ablation.parse_args(["--smoke"]))


def all_layers(model):
    """Every layer nested in `model` (Keras 3 `_flatten_layers`, as tests/test_models.py)."""
    return list(model._flatten_layers(include_self=False, recursive=True))


def top_singular_value(kernel):
    kernel = keras.ops.convert_to_numpy(kernel)
    return np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]


def read_results(out):
    with open(os.path.join(out, "results.json")) as f:
        return json.load(f)


def read_table(out):
    with open(os.path.join(out, "ablation.md")) as f:
        return f.read()


def run_main(argv, extractor=None):
    """(exit code, stderr) of `ablation.main(argv)`."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = ablation.main(argv, extractor=extractor)
    return code, stderr.getvalue()


class VariantSwitchTest(TestCase):
    """Each variant, built by `run.build_gan` from the tiny --smoke config, has its switch."""

    def build(self, name):
        return run.build_gan(ablation.variant_config(smoke_config(), name, 0))

    def test_variants_differ_from_full_only_by_their_overrides(self):
        config = smoke_config()
        self.assertNotIn("seed", config)  # each run's seed comes from --seeds
        full = ablation.variant_config(config, "full", 0)
        self.assertEqual(full["seed"], 0)
        self.assertEqual(ablation.variant_config(config, "full", 7)["seed"], 7)
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
            variant = flat(ablation.variant_config(config, name, 0))
            changed = {k: v for k, v in variant.items() if full_flat.get(k, object()) != v}
            # Exactly the variant's switches changed, each to a new value (none is a no-op).
            self.assertEqual(changed, flat(overrides), name)
            self.assertEqual(set(variant), set(full_flat) | set(changed), name)
        # Same data and model size for all.
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
        # The recipe's bCR weights (1, the authors' port; docs/quality/root_cause.md).
        self.assertEqual((gan.bcr_real, gan.bcr_fake), (1.0, 1.0))
        self.assertGreater(gan.bcr_real, 0.0)
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

    def test_hybrid_has_the_stylegan2_discriminator(self):
        from vitgan_tf.models import StyleGAN2Discriminator

        gan = self.build("hybrid")
        self.assertIsInstance(gan.discriminator, StyleGAN2Discriminator)
        self.assertEqual(gan.discriminator.width_multiplier, 0.25)
        self.assertEqual((gan.bcr_real, gan.bcr_fake), (1.0, 1.0))  # the rest is the recipe's

    def test_no_diffaugment_has_an_empty_policy(self):
        gan = self.build("no_diffaugment")
        self.assertEqual(gan.augment_policy, "")
        self.assertEmpty(augment.parse_policy(gan.augment_policy))
        self.assertEqual(gan.sample_randomness(2)["aug_real"], {})
        self.assertTrue(gan.use_bcr)


def require_fashion_mnist(test):
    if not os.path.isfile(FASHION_MNIST):
        test.skipTest("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")


class AblationScriptTest(TestCase):
    """Smoke ablations (tiny model, seconds per run, `pooled_pixels` features).

    `BASE` (full and no_diffaugment, seed 0) is run once for the class; a test
    that changes it works on a copy (`base_copy`).
    """

    NAMES = ("full", "no_diffaugment")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp()
        cls.base = os.path.join(cls.tmp, "base")
        cls.base_result = None
        if os.path.isfile(FASHION_MNIST):
            cls.base_result = run_main(["--smoke", "--out", cls.base, "--variants", ",".join(cls.NAMES),
                                        "--seeds", "0"], pooled_pixels)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        require_fashion_mnist(self)
        code, err = self.base_result
        self.assertEqual(code, 0, err)

    def base_copy(self):
        out = os.path.join(self.get_temp_dir(), "ablation")
        shutil.copytree(self.base, out)
        return out

    def test_smoke_run_resume_and_a_crashing_run(self):
        out = self.base_copy()
        keys = [f"{name}/seed0" for name in self.NAMES]
        results = read_results(out)
        self.assertEqual(list(results["runs"]), keys)
        self.assertEqual(results["seeds"], [0])
        self.assertEqual(results["settings"]["features"], "pooled_pixels")
        self.assertNotIn("seed", results["config"])
        self.assertFalse(results["mixed_cpus"])
        self.assertTrue(results["command"].startswith("python -m recipes.ablation --smoke --out"))
        batch = results["config"]["data"]["batch_size"]
        for name, key in zip(self.NAMES, keys):
            r = results["runs"][key]
            self.assertEqual(r["status"], "done", r.get("traceback"))
            self.assertEqual((r["variant"], r["seed"], r["config"]["seed"]), (name, 0, 0))
            self.assertEqual(r["machine"]["cpu_signature"], ablation.cpu_signature())
            self.assertEqual(r["run_dir"], os.path.join("runs", name, "seed0"))
            self.assertTrue(os.path.isdir(os.path.join(out, r["run_dir"])))
            self.assertGreaterEqual(r["steps"], 1)
            self.assertEqual(r["images_seen"], r["steps"] * batch)
            # run.train's budget is honoured: training stops at the first logging boundary
            # past it, and those boundaries are the records (losses) read from metrics.jsonl.
            self.assertEqual(r["losses"][-1]["step"], r["steps"])
            self.assertGreaterEqual(r["train_seconds"], r["budget_seconds"])
            self.assertTrue(all(p["train_minutes"] * 60 < r["budget_seconds"] for p in r["losses"][:-1]))
            self.assertEqual(r["steps"] % results["config"]["train"]["log_every"], 0)
            with open(os.path.join(out, r["run_dir"], "metrics.jsonl")) as f:
                last = [json.loads(line) for line in f][-1]
            self.assertEqual(last["fid48"], r["final"]["fid"])
            self.assertAllClose(1000 * last["kid48"], r["final"]["kid_x1000"])
            self.assertEqual(r["train_seconds"], last["train_time"])
            self.assertTrue(r["final"]["final"])
            self.assertEqual(r["curve"][-1], r["final"])
            self.assertTrue(np.isfinite(r["final"]["kid_x1000"]) and np.isfinite(r["final"]["fid"]))
            self.assertEqual(r["final"]["kid_samples"], 48)
            self.assertTrue(all(p["kid_samples"] == 24 for p in r["curve"][:-1]))
            self.assertNotEmpty(r["losses"])
            self.assertIn("d_loss", r["losses"][-1])
            self.assertEqual(r["final_d_loss"], r["losses"][-1]["d_loss"])
            self.assertAllClose(r["final_logit_gap"], r["losses"][-1]["d_real"] - r["losses"][-1]["d_fake"])
            self.assertEqual(r["lipschitz"][-1]["step"], r["steps"])
            self.assertGreater(r["final_lipschitz"], 0.0)
            self.assertEqual(r["samples"], f"samples_{name}_seed0.png")
            with Image.open(os.path.join(out, r["samples"])) as grid:
                self.assertEqual(grid.size, (8 * 32, 8 * 32))
        self.assertEqual(results["runs"]["no_diffaugment/seed0"]["config"]["gan"]["augment_policy"], "")

        table = read_table(out)
        lines = table.splitlines()
        for name, key in zip(self.NAMES, keys):
            self.assertEqual(sum(line.startswith(f"| {key} | ") for line in lines), 1)  # per run
            self.assertEqual(sum(line.startswith(f"| {name} | 1 | ") for line in lines), 1)  # summary
        self.assertIn("| variant | seeds | KID x1000 mean +- std | FID mean +- std | logit gap mean +- std "
                      "| D Lipschitz mean +- std | steps mean |", table)
        self.assertIn("python -m recipes.ablation --smoke --out", table)
        self.assertIn("(d_vs_time.png)", table)
        self.assertIn("(kid_by_variant.png)", table)
        self.assertNotIn("mixed CPUs", table)
        plots = ("kid_by_variant.png", "kid_vs_time.png", "d_vs_time.png")
        for name in plots:
            with Image.open(os.path.join(out, name)) as plot:
                plot.verify()
                self.assertEqual(plot.format, "PNG")

        # --resume with every asked run finished trains nothing, keeps the results (and the
        # command that made them) and rewrites the table and plots.
        for name in ("ablation.md", *plots):
            os.remove(os.path.join(out, name))
        code, err = run_main(["--smoke", "--out", out, "--resume", "--variants", "full", "--seed", "0"],
                             pooled_pixels)
        self.assertEqual(code, 0, err)
        self.assertEqual(read_results(out), results)
        self.assertEqual(read_table(out), table)
        for name in plots:
            self.assertTrue(os.path.isfile(os.path.join(out, name)), name)

        # Existing results are not clobbered.
        code, err = run_main(["--smoke", "--out", out, "--variants", "full", "--seeds", "0"], pooled_pixels)
        self.assertEqual(code, 2)
        self.assertIn("results.json exists", err)

        # --resume keeps finished runs and goes seed-major through the others; a crash is
        # recorded, not fatal.
        def crash(key, *args, **kwargs):
            raise RuntimeError(f"simulated crash of {key}")

        with mock.patch.object(ablation.runner, "run_variant", crash):
            code, err = run_main(["--smoke", "--out", out, "--resume", "--variants",
                                  "full,no_diffaugment,no_bcr", "--seeds", "0,1"], pooled_pixels)
        self.assertEqual(code, 1)
        self.assertIn("simulated crash of no_bcr/seed0", err)
        resumed = read_results(out)
        self.assertEqual(list(resumed["runs"]), keys + ["no_bcr/seed0", "full/seed1", "no_diffaugment/seed1",
                                                        "no_bcr/seed1"])
        for key in keys:
            self.assertEqual(resumed["runs"][key], results["runs"][key])
        failed = resumed["runs"]["no_bcr/seed1"]
        self.assertEqual((failed["status"], failed["variant"], failed["seed"]), ("failed", "no_bcr", 1))
        self.assertEqual(resumed["earlier_commands"], [results["command"]])
        self.assertEqual(resumed["summary"]["no_bcr"]["n"], 0)
        self.assertEqual(resumed["summary"]["no_bcr"]["not_done_seeds"], [0, 1])
        self.assertEqual(list(resumed["summary"])[-1], "no_bcr")  # no finished seed: last
        self.assertIn("| no_bcr/seed0 | failed: RuntimeError: simulated crash of no_bcr/seed0 |",
                      read_table(out))

    def test_summary_is_numpy_mean_and_sample_std_of_the_runs(self):
        out = self.base_copy()
        # Seeds may grow on resume: full/seed1 is trained, the seed-0 runs are kept.
        code, err = run_main(["--smoke", "--out", out, "--resume", "--variants", "full", "--seeds", "0,1"],
                             pooled_pixels)
        self.assertEqual(code, 0, err)
        results = read_results(out)
        self.assertEqual(list(results["runs"]), ["full/seed0", "no_diffaugment/seed0", "full/seed1"])
        runs = list(results["runs"].values())
        self.assertNotEqual(runs[0]["final"]["kid_x1000"], runs[2]["final"]["kid_x1000"])

        def finals(record):
            last = record["losses"][-1]
            return {"kid_x1000": record["final"]["kid_x1000"], "fid": record["final"]["fid"],
                    "logit_gap": last["d_real"] - last["d_fake"],
                    "lipschitz": record["lipschitz"][-1]["lipschitz"], "steps": record["steps"]}

        summary = results["summary"]
        self.assertEqual(set(summary), set(self.NAMES))
        for name, seeds in (("full", [0, 1]), ("no_diffaugment", [0])):
            self.assertEqual((summary[name]["n"], summary[name]["seeds"]), (len(seeds), seeds))
            values = [finals(r) for r in runs if r["variant"] == name]
            for metric in ("kid_x1000", "fid", "logit_gap", "lipschitz", "steps"):
                column = np.array([v[metric] for v in values], dtype="float64")
                stats = summary[name][metric]
                self.assertAllClose(stats["mean"], column.mean(), rtol=1e-12, msg=f"{name} {metric}")
                if len(column) >= 2:
                    self.assertAllClose(stats["std"], column.std(ddof=1), rtol=1e-12, msg=f"{name} {metric}")
                else:
                    self.assertIsNone(stats["std"])
        # Best KID mean first, in results.json and in the table.
        means = [summary[n]["kid_x1000"]["mean"] for n in summary]
        self.assertEqual(means, sorted(means))
        best = results["best"]
        self.assertEqual(best["variant"], list(summary)[0])
        full, top = summary["full"]["kid_x1000"], summary[best["variant"]]["kid_x1000"]
        stds = [s for s in (full["std"], top["std"]) if s is not None]
        self.assertEqual(best["full_within_one_std"], full["mean"] - top["mean"] <= max(stds))
        table = read_table(out)
        rows = [line.split(" | ")[0][2:] for line in table.splitlines()
                if line.startswith("| ") and " | " in line and line.split(" | ")[0][2:] in summary]
        self.assertEqual(rows, list(summary))
        self.assertIn(f"| full | 2 | {full['mean']:.2f} +- {full['std']:.2f} |", table)
        self.assertIn("| no_diffaugment | 1 | ", table)
        self.assertIn(f"Best (lowest mean KID x1000): `{best['variant']}`", table)
        self.assertIn("`full_mean - best_mean <= max(best_std, full_std)`", table)
        with Image.open(os.path.join(out, "kid_by_variant.png")) as plot:
            plot.verify()

    def test_same_seed_same_run_other_seed_other_run(self):
        # The class's run is `full` seed 0; this test adds seed 0 again and seed 1.
        def losses(out, seed):
            record = read_results(out)["runs"][f"full/seed{seed}"]
            self.assertEqual(record["config"]["seed"], seed)
            return {p["step"]: (p["d_loss"], p["g_loss"]) for p in record["losses"]}

        def run(seed, folder):
            out = os.path.join(self.get_temp_dir(), folder)
            code, err = run_main(["--smoke", "--out", out, "--variants", "full", "--seeds", str(seed)],
                                 pooled_pixels)
            self.assertEqual(code, 0, err)
            return losses(out, seed)

        first, again, other = losses(self.base, 0), run(0, "a"), run(1, "b")
        same = sorted(set(first) & set(again))
        self.assertNotEmpty(same)  # the budget is time: the step counts may differ, not the first steps
        self.assertAllClose([first[s] for s in same], [again[s] for s in same], rtol=1e-4)
        shared = sorted(set(first) & set(other))
        self.assertNotEmpty(shared)
        difference = np.abs(np.array([first[s] for s in shared]) - np.array([other[s] for s in shared]))
        self.assertGreater(difference.max(), 1e-4)

    def test_resume_refuses_another_cpu_unless_allowed(self):
        out = self.base_copy()
        before = read_results(out)
        here = ablation.cpu_signature()
        argv = ["--smoke", "--out", out, "--resume", "--variants", "no_diffaugment", "--seeds", "0,1"]
        with mock.patch.object(ablation.runner, "cpu_signature", lambda: OTHER_CPU):
            code, err = run_main(argv, pooled_pixels)
            self.assertEqual(code, 2)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn(repr(OTHER_CPU), err)
            self.assertIn(repr(here), err)
            self.assertIn("--allow-other-cpu", err)
            self.assertEqual(read_results(out), before)

            code, err = run_main(argv + ["--allow-other-cpu"], pooled_pixels)
        self.assertEqual(code, 0, err)
        results = read_results(out)
        self.assertTrue(results["mixed_cpus"])
        self.assertEqual(results["runs"]["no_diffaugment/seed1"]["machine"]["cpu_signature"], OTHER_CPU)
        self.assertEqual(results["runs"]["full/seed0"]["machine"]["cpu_signature"], here)
        table = read_table(out)
        self.assertIn("**Warning: mixed CPUs**", table)
        self.assertIn(f"`{OTHER_CPU}`: no_diffaugment/seed1", table)

        # A resume with nothing to train has no CPU check (it trains no run to compare).
        code, err = run_main(argv, pooled_pixels)
        self.assertEqual(code, 0, err)


class BadInputTest(TestCase):
    def test_bad_seeds(self):
        for bad in ("", " , ", "a", "0,x", "1.5", "-1", "0,-2"):
            code, err = run_main(["--smoke", "--out", self.get_temp_dir(), "--seeds", bad])
            self.assertEqual(code, 2, bad)
            self.assertIn(f"--seeds {bad!r}", err)
        self.assertEqual(ablation.parse_seeds(" 2, 0,2 "), [2, 0])
        self.assertEqual(ablation.parse_args(["--seed", "3"]).seeds, "3")  # the alias
        self.assertEqual(ablation.parse_args([]).seeds, "0,1,2")
        self.assertEqual(ablation.plan_runs(["full", "no_bcr"], [0, 1]),
                         [("full", 0), ("no_bcr", 0), ("full", 1), ("no_bcr", 1)])

    def test_set_seed_is_refused(self):
        code, err = run_main(["--smoke", "--out", self.get_temp_dir(), "--set", "seed=3"])
        self.assertEqual(code, 2)
        self.assertIn("--set 'seed=3'", err)
        self.assertIn("--seeds", err)

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
            json.dump({"settings": {"minutes": 99.0}, "config": {}, "runs": {}}, f)
        code, err = run_main(["--smoke", "--out", out, "--resume"], pooled_pixels)
        self.assertEqual(code, 2)
        self.assertIn("other settings", err)

    def test_resume_of_the_single_seed_layout(self):
        out = self.get_temp_dir()
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump({"settings": {}, "config": {}, "variants": {}}, f)
        code, err = run_main(["--smoke", "--out", out, "--resume"], pooled_pixels)
        self.assertEqual(code, 2)
        self.assertIn('has no "runs"', err)

    def test_bad_set_and_budget(self):
        code, err = run_main(["--smoke", "--out", self.get_temp_dir(), "--set", "gan.nope=1"])
        self.assertEqual((code, "Unknown config key 'gan.nope'" in err), (2, True), err)
        code, err = run_main(["--smoke", "--out", self.get_temp_dir(), "--minutes", "0"])
        self.assertEqual(code, 2)
        self.assertIn("Expected --minutes in (0, 100000]. Received: 0.0", err)
        code, err = run_main(["--smoke", "--out", self.get_temp_dir(), "--set", "data.source=synthetic"],
                             pooled_pixels)
        self.assertEqual(code, 2)
        self.assertIn("data.source='synthetic' has no real reference", err)
        code, err = run_main(["--out", self.get_temp_dir(), "--curve-samples", "3000"])
        self.assertEqual(code, 2)
        self.assertIn("--curve-samples <= --kid-samples 2000. Received: 3000", err)
