"""Image helpers and the sampling command."""

import os

import keras
import numpy as np
from PIL import Image

from tests.test_case import TestCase
from vitgan_tf import images as image_utils
from vitgan_tf.models import Generator
from vitgan_tf.models import load_generator
from vitgan_tf.sample import main


class ImagesTest(TestCase):
    def test_to_uint8(self):
        x = np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0])
        self.assertAllEqual(image_utils.to_uint8(x), [0, 0, 128, 191, 255, 255])

    def test_grid_places_images_row_major(self):
        batch = np.stack([np.full((2, 3, 1), i, "uint8") for i in range(5)])
        grid = image_utils.make_grid(batch, columns=3)
        self.assertEqual(grid.shape, (4, 9, 1))
        self.assertAllEqual(grid[:2, 3:6, 0], np.full((2, 3), 1))
        self.assertAllEqual(grid[2:, 3:6, 0], np.full((2, 3), 4))
        self.assertAllEqual(grid[2:, 6:, 0], np.zeros((2, 3)))  # empty cell
        with self.assertRaisesRegex(ValueError, r"shape \(2, 3\)"):
            image_utils.make_grid(np.zeros((2, 3)))

    def test_grid_padding_and_scale(self):
        batch = np.stack([np.full((1, 2, 3), i + 1, "uint8") for i in range(3)])
        grid = image_utils.make_grid(batch, columns=2, padding=1, scale=2, pad_value=9)
        self.assertEqual(grid.shape, (2 * (2 + 1) + 1, 2 * (4 + 1) + 1, 3))
        self.assertAllEqual(grid[1:3, 1:5], np.full((2, 4, 3), 1))
        self.assertAllEqual(grid[1:3, 6:10], np.full((2, 4, 3), 2))
        self.assertAllEqual(grid[4:6, 1:5], np.full((2, 4, 3), 3))
        self.assertAllEqual(grid[0], np.full((11, 3), 9))  # border
        self.assertAllEqual(grid[4:6, 6:10], np.full((2, 4, 3), 9))  # empty cell
        with self.assertRaisesRegex(ValueError, r"shape \(2, 2, 2\)"):
            image_utils.to_pil(np.zeros((2, 2, 2), "uint8"))

    def test_save_grid_roundtrip(self):
        x = np.random.default_rng(0).uniform(-1, 1, size=(4, 5, 5, 3)).astype("float32")
        path = os.path.join(self.get_temp_dir(), "sub", "grid.png")
        image_utils.save_grid(x, path)
        saved = np.asarray(Image.open(path))
        self.assertAllEqual(saved, image_utils.make_grid(image_utils.to_uint8(x)))
        self.assertEqual(os.listdir(os.path.dirname(path)), ["grid.png"])  # no temp file left


class SampleCommandTest(TestCase):
    def test_architecture_preset_and_saved_generator(self):
        out = os.path.join(self.get_temp_dir(), "s.png")
        main(["--architecture", "tiny", "--out", out, "--num", "6", "--seed", "3"])
        self.assertEqual(Image.open(out).size, (3 * 16, 2 * 16))
        with self.assertWarnsRegex(FutureWarning, "UNTRAINED"):  # the old spelling still works
            main(["--preset", "tiny", "--out", out, "--num", "6", "--seed", "3"])
        # A preset folder with weights, plain and truncated: the grids of its own outputs.
        gen = Generator.from_architecture("tiny")
        gen(np.random.default_rng(0).normal(size=(8, gen.z_dim)).astype("float32"), training=True)
        folder = os.path.join(self.get_temp_dir(), "preset")
        gen.save_to_preset(folder)
        z = keras.random.normal((4, gen.z_dim), seed=5)
        for psi in ("1", "0.5"):
            main(["--preset", folder, "--out", out, "--num", "4", "--seed", "5", "--truncation-psi", psi])
            expected = image_utils.make_grid(image_utils.to_uint8(gen.generate(z, float(psi)).numpy()))
            diff = np.abs(np.asarray(Image.open(out)).astype(int) - expected.astype(int))
            self.assertLessEqual(diff.max(), 1, psi)
        # A saved generator gives the grid of its own outputs on the same latents.
        gen = Generator.from_architecture("tiny")
        path = os.path.join(self.get_temp_dir(), "g.keras")
        gen.save(path)
        main(["--generator", path, "--out", out, "--num", "4", "--seed", "5"])
        z = keras.random.normal((4, gen.z_dim), seed=5)
        expected = image_utils.make_grid(image_utils.to_uint8(gen.predict(z, verbose=0)))
        diff = np.abs(np.asarray(Image.open(out)).astype(int) - expected.astype(int))
        self.assertLessEqual(diff.max(), 1)

    def test_bad_generator_files(self):
        with self.assertRaisesRegex(FileNotFoundError, "not found.*missing.keras"):
            load_generator(os.path.join(self.get_temp_dir(), "missing.keras"))
        other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        path = os.path.join(self.get_temp_dir(), "dense.keras")
        other.save(path)
        with self.assertRaisesRegex(ValueError, "holds a Sequential .* not a ViTGAN"):
            load_generator(path)
        corrupt = os.path.join(self.get_temp_dir(), "corrupt.keras")
        with open(corrupt, "wb") as f:
            f.write(b"not a zip")
        with self.assertRaisesRegex(ValueError, "corrupt.keras.* is corrupt"):
            load_generator(corrupt)
