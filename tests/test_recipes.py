"""Recipes and the training CLI."""

import json
import os

from tests.test_case import TestCase
from recipes import RECIPES, get_config
from recipes import train as cli
from vitgan_tf.training import run


class RecipesTest(TestCase):
    def test_every_recipe_resolves_and_documents_itself(self):
        import importlib

        for name in RECIPES:
            module = importlib.import_module(f"recipes.{name}")
            for word in ("Expected result", "Hardware", "Wall time", "Command: python -m recipes.train"):
                self.assertIn(word, module.__doc__, f"{name}: {word}")
            config = run.merge(run.base_config(), get_config(name))
            run.validate(config)
            run.schedule(config)

    def test_paper_recipe_values(self):
        config = run.merge(run.base_config(), get_config("cifar10"))
        self.assertEqual(config["gan"]["bcr_real"], 10.0)
        self.assertEqual(config["gan"]["augment_p"], 0.8)
        self.assertEqual(config["optimizer"], {"g_lr": 2e-3, "d_lr": 2e-3, "beta_1": 0.0, "beta_2": 0.99,
                                               "warmup_steps": 0})
        self.assertEqual(config["data"]["batch_size"], 128)

    def test_hybrid_recipe_values(self):
        """The authors' README command and gin files (recipes/cifar10_hybrid.py)."""
        config = run.merge(run.base_config(), get_config("cifar10_hybrid"))
        self.assertEqual(config["model"]["discriminator"],
                         {"architecture": "stylegan2", "width_multiplier": 1.0})
        gan = config["gan"]
        self.assertEqual((gan["bcr_real"], gan["bcr_fake"], gan["r1_gamma"]), (1.0, 1.0, 0.1))
        self.assertEqual(gan["augment_p"], {"color": 0.8, "translation": 0.8, "flip": 0.45,
                                            "cutout": 0.3})
        self.assertAlmostEqual(gan["ema_decay"], 0.99995564, places=8)  # half-life 1M images
        self.assertEqual(config["optimizer"], {"g_lr": 1e-3, "d_lr": 1e-3, "beta_1": 0.0,
                                               "beta_2": 0.99, "warmup_steps": 3000})
        self.assertEqual(config["data"]["batch_size"], 64)

    def test_hybrid_recipe_trains(self):
        """`recipes.train cifar10_hybrid`, shrunk to the tiny preset on synthetic data."""
        out = os.path.join(self.get_temp_dir(), "hybrid")
        self.assertEqual(cli.main([
            "cifar10_hybrid", "--steps", "2", "--batch-size", "8", "--out", out,
            "--set", "model.preset=tiny", "--set", "data.source=synthetic",
            "--set", "model.discriminator.width_multiplier=0.03125",
            "--set", "train.log_every=2", "--set", "train.precision=float32",
            "--set", "train.jit_compile=false"]), 0)
        records = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
        self.assertEqual(records[-1]["step"], 2)
        self.assertGreater(records[-1]["bcr"], 0.0)
        saved = json.load(open(os.path.join(out, "config.json")))
        self.assertEqual(saved["model"]["discriminator"]["architecture"], "stylegan2")

    def test_cli_overrides_and_dry_run(self):
        args = cli.parse_args(["tiny", "--steps", "6", "--batch-size", "4",
                               "--set", "gan.bcr_real=2.5", "--set", "model.shared.depth=2",
                               "--set", "train.log_every=3"])
        config = cli.resolve(args)
        self.assertEqual(config["train"]["steps"], 6)
        self.assertEqual(config["data"]["batch_size"], 4)
        self.assertEqual(config["gan"]["bcr_real"], 2.5)
        self.assertEqual(config["model"]["shared"], {"depth": 2})
        out = os.path.join(self.get_temp_dir(), "dry")
        self.assertEqual(cli.main(["tiny", "--dry-run", "--out", out]), 0)
        self.assertFalse(os.path.exists(out))

    def test_cli_trains_and_refuses_another_run(self):
        out = os.path.join(self.get_temp_dir(), "cli")
        self.assertEqual(cli.main(["tiny", "--steps", "2", "--set", "train.log_every=2",
                                   "--out", out]), 0)
        self.assertTrue(os.path.exists(os.path.join(out, "samples_000002.png")))
        self.assertEqual(json.load(open(os.path.join(out, "config.json")))["recipe"], "tiny")
        self.assertEqual(cli.main(["tiny", "--steps", "2", "--set", "train.log_every=2",
                                   "--set", "seed=5", "--out", out]), 2)

    def test_bad_input(self):
        with self.assertRaisesRegex(ValueError, "Unknown recipe 'nope'"):
            get_config("nope")
        self.assertEqual(cli.main(["nope"]), 2)
        self.assertEqual(cli.main(["tiny", "--set", "gan.lambda=1"]), 2)
        self.assertEqual(cli.main(["tiny", "--steps", "7", "--set", "train.log_every=3"]), 2)
        with self.assertRaisesRegex(ValueError, "precision='float64'"):
            config = run.base_config()
            run.set_key(config, "train.precision=float64")
            run.validate(config)


class ConfigKeysTest(TestCase):
    """Unknown keys at any depth and wrong types are refused, naming the key."""

    def assertRefused(self, pattern, sets=(), updates=None):
        with self.assertRaisesRegex(ValueError, pattern):
            cli.resolve_config("tiny", sets=sets, updates=updates)

    def test_typos_in_model_sections_are_refused_with_the_choices(self):
        self.assertRefused(r"Unknown config key 'model.shared.hiden_dim'.*'hidden_dim'",
                           sets=["model.shared.hiden_dim=64"])
        self.assertRefused(r"Unknown config key 'model.generator.zdim'.*'z_dim'",
                           sets=["model.generator.zdim=8"])
        # A generator-only argument is not a shared one.
        self.assertRefused(r"Unknown config key 'model.shared.z_dim'", sets=["model.shared.z_dim=8"])
        # The same typos from a recipe's dict, not only from --set.
        self.assertRefused(r"Unknown config key 'model.discriminator.atention'",
                           updates={"model": {"discriminator": {"atention": "dot"}}})
        self.assertRefused(r"Unknown config key 'train.stpes'.*'steps'",
                           updates={"train": {"stpes": 3}})
        self.assertRefused(r"Unknown config key 'gann' \(at the top level\)", updates={"gann": {}})
        self.assertRefused(r"Unknown model.preset 'cifar100'", sets=["model.preset=cifar100"])
        self.assertRefused(r"'gan.bcr_real' is not a section", updates={"gan": {"bcr_real": {"x": 1}}})

    def test_wrong_types_are_refused_naming_the_key(self):
        self.assertRefused(r"'gan.augment_p' expects a float.*'high' \(str\)", sets=["gan.augment_p=high"])
        self.assertRefused(r"'train.steps' expects a int.*2.5 \(float\)", sets=["train.steps=2.5"])
        self.assertRefused(r"'gan.ema_rampup' expects a bool.*1 \(int\)", sets=["gan.ema_rampup=1"])
        self.assertRefused(r"'model.shared.depth' expects a int.*'two'", sets=["model.shared.depth=two"])
        self.assertRefused(r"'model.discriminator.equalized_lr' expects a bool",
                           sets=["model.discriminator.equalized_lr=0"])
        self.assertRefused(r"'gan.bcr_real' expects a float.*null", sets=["gan.bcr_real=null"])

    def test_accepted_values(self):
        config = cli.resolve_config("tiny", sets=[
            "gan.bcr_real=1",  # an int where a float is expected
            "gan.ema_decay=null",  # documented: no EMA update
            "train.jit_compile=false", "model.discriminator.attention=dot",
            "model.discriminator.spectral_norm=null", "gan.augment_policy=null",  # documented off
            'gan.bcr_policy=["translation"]',  # a list of ops
            "model.generator.z_dim=8", "model.shared.depth=2",
        ])
        self.assertEqual((config["gan"]["bcr_real"], config["gan"]["ema_decay"]), (1, None))
        gan = run.build_gan(config)
        self.assertEqual((gan.generator.depth, gan.discriminator.depth, gan.generator.z_dim), (2, 2, 8))
        self.assertEqual((gan.discriminator.attention, gan.discriminator.spectral_norm), ("dot", None))
        self.assertEqual((gan.augment_policy, gan.bcr_policy), (None, ["translation"]))

    def test_defaults_come_from_the_classes(self):
        import inspect

        from vitgan_tf.training.gan import ViTGAN, default_optimizer

        signature = inspect.signature(ViTGAN.__init__).parameters
        gan_defaults = run.base_config()["gan"]
        self.assertEqual(gan_defaults, {k: signature[k].default for k in gan_defaults})
        self.assertEqual(set(gan_defaults) | {"self", "generator", "discriminator", "ema_generator",
                                              "seed", "kwargs"}, set(signature))
        adam = default_optimizer()
        optimizer = run.base_config()["optimizer"]
        self.assertAllClose([optimizer["g_lr"], optimizer["d_lr"], optimizer["beta_1"], optimizer["beta_2"]],
                            [adam.learning_rate.numpy()] * 2 + [adam.beta_1, adam.beta_2])


class EvaluationScheduleTest(TestCase):
    def test_steps_cut_short_shrink_the_final_evaluation_and_no_eval_drops_them(self):
        full = cli.resolve_config("fashion_mnist")
        self.assertEqual(full["train"]["final_eval_samples"], 10000)
        short = cli.resolve_config("fashion_mnist", steps=200)
        self.assertEqual(short["train"]["final_eval_samples"], full["train"]["eval_samples"])
        kept = cli.resolve_config("fashion_mnist", steps=200, sets=["train.final_eval_samples=5000"])
        self.assertEqual(kept["train"]["final_eval_samples"], 5000)
        off = cli.resolve(cli.parse_args(["fashion_mnist", "--steps", "200", "--no-eval"]))
        self.assertEqual((off["train"]["eval_every"], off["train"]["final_eval_samples"]), (0, 0))
        self.assertEqual(cli.evaluation_estimate(off), "evaluations: none")
        line = cli.evaluation_estimate(short)
        rate = cli.ESTIMATE_IMAGES_PER_SECOND
        self.assertIn(f"FID on 2000 at the last step, ~{2000 / rate / 60:.1f} min", line)
        self.assertIn(f"10000 real images once (then cached), ~{10000 / rate / 60:.1f} min", line)
        self.assertIn("--no-eval", line)
        budgeted = cli.evaluation_estimate(full)
        self.assertIn("fewer if the 120-min budget ends the run first", budgeted)
