"""Data pipelines: values, geometry, resume order, bad sources."""

import os

import numpy as np
from PIL import Image

from tests.test_case import TestCase
from vitgan_tf import data


def first(dataset):
    return next(iter(dataset)).numpy()


class DataTest(TestCase):
    def test_npz_values_are_scaled_and_padded_with_background(self):
        images = np.zeros((4, 28, 28), np.uint8)
        images[:, 0, 0] = 255
        path = os.path.join(self.get_temp_dir(), "x.npz")
        np.savez(path, images=images)
        batch = first(data.make_dataset(path, 32, 1, 4))
        self.assertEqual(batch.shape, (4, 32, 32, 1))
        self.assertEqual(batch.dtype, np.float32)
        self.assertAllClose(batch[:, :2], -np.ones((4, 2, 32, 1)))  # 2 px of -1 padding
        self.assertAllClose(batch[:, 2, 2, 0], np.ones(4))  # pixel (0, 0) = 255 -> 1
        self.assertEqual(int((batch == 1.0).sum()), 4)

    def test_larger_images_are_centre_cropped_and_resized(self):
        images = np.full((2, 40, 80, 3), 255, np.uint8)  # the side bands differ
        images[:, :, :20] = 0
        images[:, :, 60:] = 0
        path = os.path.join(self.get_temp_dir(), "y.npz")
        np.savez(path, images=images)
        batch = first(data.make_dataset(path, 16, 3, 2))
        self.assertAllClose(batch, np.ones((2, 16, 16, 3)), atol=1e-5)  # crop keeps the middle

    def test_same_batches_after_resume_and_each_epoch_is_a_permutation(self):
        images = np.arange(12, dtype=np.uint8).reshape(12, 1, 1, 1) * 20
        path = os.path.join(self.get_temp_dir(), "z.npz")
        np.savez(path, images=images)
        it = iter(data.make_dataset(path, 1, 1, 4, seed=3))
        batches = [next(it).numpy().ravel() for _ in range(6)]
        resumed = iter(data.make_dataset(path, 1, 1, 4, seed=3, start_step=4))
        self.assertAllClose(next(resumed).numpy().ravel(), batches[4])
        epoch = np.sort(np.concatenate(batches[:3]))
        self.assertAllClose(epoch, np.sort(images.ravel() / 127.5 - 1.0), atol=1e-6)

    def test_folder_skips_unreadable_files_with_a_warning(self):
        folder = os.path.join(self.get_temp_dir(), "images")
        os.makedirs(os.path.join(folder, "sub"))
        Image.fromarray(np.full((8, 8, 3), 255, np.uint8)).save(os.path.join(folder, "a.png"))
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(os.path.join(folder, "sub", "b.JPG"))
        with open(os.path.join(folder, "bad.png"), "wb") as f:
            f.write(b"not an image")
        with self.assertLogs("vitgan_tf.data", level="WARNING") as logs:
            files, unreadable = data.list_image_files(folder)
        self.assertEqual((len(files), unreadable), (2, 1))
        self.assertIn("Skipped 1 unreadable", logs.output[0])
        batch = first(data.make_dataset(folder, 8, 3, 2))
        self.assertAllClose(np.sort(batch.reshape(2, -1).mean(1)), [-1.0, 1.0], atol=1e-3)

    def test_folder_of_only_corrupt_images_is_an_error(self):
        folder = os.path.join(self.get_temp_dir(), "corrupt")
        os.makedirs(folder)
        for name in ("a.png", "b.jpg"):
            with open(os.path.join(folder, name), "wb") as f:
                f.write(b"junk")
        with self.assertRaisesRegex(ValueError, "No readable.*corrupt.*2 unreadable"):
            data.make_dataset(folder, 8, 3, 2)

    def test_missing_or_unknown_sources_name_the_path(self):
        with self.assertRaisesRegex(FileNotFoundError, "/no/such/folder"):
            data.make_dataset("/no/such/folder", 8, 3, 2)
        with self.assertRaisesRegex(FileNotFoundError, "missing.npz"):
            data.make_dataset("missing.npz", 8, 3, 2)
        with self.assertRaisesRegex(ValueError, "imagenet"):
            data.make_dataset("imagenet", 8, 3, 2)
        with self.assertRaisesRegex(ValueError, "batch_size=0"):
            data.make_dataset("synthetic", 8, 3, 0)

    def test_fashion_mnist_from_the_debian_files(self):
        if not os.path.exists(os.path.join(data.FASHION_MNIST_DIR, data.FASHION_MNIST_FILES["train"])):
            self.skipTest("dataset-fashion-mnist is not installed")
        batch = first(data.make_dataset("fashion_mnist", 32, 1, 16))
        self.assertEqual(batch.shape, (16, 32, 32, 1))
        self.assertAllClose(batch[:, :2], -np.ones((16, 2, 32, 1)))
        self.assertGreater(batch.max(), 0.9)
        self.assertGreaterEqual(batch.min(), -1.0)


class CenterPaddingTest(TestCase):
    """One placement rule for smaller images: data pipeline, metrics and benchmarks."""

    def test_padding_values(self):
        from vitgan_tf.images import center_padding, pad_to_size

        self.assertEqual(center_padding(28, 28, 32), ((2, 2), (2, 2)))
        self.assertEqual(center_padding(29, 27, 32), ((1, 2), (2, 3)))
        images = np.arange(2 * 29 * 27, dtype="float32").reshape(2, 29, 27, 1)
        padded = pad_to_size(images, 32, background=-1.0)
        expected = np.full((2, 32, 32, 1), -1.0, "float32")
        expected[:, 1:30, 2:29] = images
        np.testing.assert_array_equal(padded, expected)
        self.assertIs(pad_to_size(expected, 32, background=0), expected)
        with self.assertRaisesRegex(ValueError, "Cannot pad 29x27 images to image_size=16"):
            pad_to_size(images, 16, background=0)

    def test_pipeline_and_metrics_place_images_alike(self):
        from vitgan_tf.images import pad_to_size

        rng = np.random.default_rng(0)
        uint8 = rng.integers(0, 256, (3, 29, 27, 1)).astype("uint8")
        batch = data.preprocess(uint8, 32, 1).numpy()
        single = data.preprocess_single(np.repeat(uint8[0], 3, axis=-1), 32, 1).numpy()
        reference = pad_to_size(uint8, 32, background=0).astype("float32") / 127.5 - 1.0
        np.testing.assert_allclose(batch, reference, atol=1e-6)
        # preprocess_single converts RGB to grey (0.299 + 0.587 + 0.114 = 1 on a grey image).
        np.testing.assert_allclose(single, reference[0], atol=1e-5)
