"""The evaluation command, reference-statistics cache, IS classifiers and FIDCallback.

Inception at 299x299 is slow on CPU, so the tests that check Inception's part (the CLI's
own network, the reference cache) run it on a handful of images (the FID values are then
meaningless but the plumbing is checked), and the tests of what is scored and how it is
recorded use a fixed function of the pixels in its place (tests/pixel_features.py); all on
a small synthetic dataset registered for the test.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.pixel_features import pixel_features, pooled_pixels
from vitgan_tf import evaluate
from vitgan_tf.training import callbacks as callback_lib
from vitgan_tf.metrics import classifiers
from vitgan_tf import data
from vitgan_tf.metrics import datasets
from vitgan_tf.images import pad_to_size
from vitgan_tf.models import Generator
from vitgan_tf.metrics import evaluation
from vitgan_tf.metrics import inception

CLI_BATCH_SIZE = 4  # the evaluation CLI's --batch-size in these tests


@keras.saving.register_keras_serializable(package="vitgan_tf_tests")
class StandInGenerator(keras.Model):
    """Functional stand-in for vitgan_tf.models.Generator: z -> [-1, 1] images."""

    def __init__(self, z_dim=8, image_size=32, channels=1, **kwargs):
        z = keras.Input((z_dim,), name="z")
        x = keras.layers.Dense(image_size * image_size * channels, activation="tanh", name="proj")(z)
        x = keras.layers.Reshape((image_size, image_size, channels))(x)
        super().__init__(z, x, **kwargs)
        self.z_dim, self.image_size, self.channels = z_dim, image_size, channels

    def get_config(self):
        return {"z_dim": self.z_dim, "image_size": self.image_size, "channels": self.channels,
                "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _tiny_loader(split, image_size):
    rng = np.random.default_rng({"train": 0, "test": 1}[split])
    images = rng.integers(0, 256, (12, 28, 28, 1)).astype(np.uint8)
    return pad_to_size(images, image_size, background=0)


@pytest.fixture
def tiny_dataset(monkeypatch, tmp_path):
    """A 12-image dataset 'tiny' and a private reference-statistics cache."""
    monkeypatch.setitem(datasets.DATASETS, "tiny", (_tiny_loader, 32))
    monkeypatch.setattr(evaluation, "cache_dir", lambda: str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture(scope="module")
def extractor():
    try:
        model = inception.inception_v3_fid()
    except RuntimeError as e:
        pytest.skip(f"Inception weights unavailable: {e}")
    return inception.InceptionFeatureExtractor(model=model, batch_size=4)


@pytest.fixture
def stand_in_features(monkeypatch):
    """The CLI's Inception network replaced by `pixel_features` (with the CLI's arguments checked).

    Only `test_generator_cli_writes_json` lets the CLI build its own (from the default
    weights). The pixels are not pooled: the dataset-split test needs two random image sets
    told apart.
    """
    def make(weights="default", batch_size=50, jit_compile=False):
        assert (weights, batch_size, jit_compile) == ("default", CLI_BATCH_SIZE, False)
        return pixel_features
    monkeypatch.setattr(inception, "InceptionFeatureExtractor", make)
    return pixel_features


@pytest.fixture
def saved_generator(tmp_path):
    keras.utils.set_random_seed(0)
    gen = Generator.from_architecture("tiny", image_size=32, channels=1)
    path = str(tmp_path / "ema_generator.keras")
    gen.save(path)
    return path


def _run(argv):
    return evaluate.run(argv + ["--quiet", "--batch-size", str(CLI_BATCH_SIZE)])


def _generated_uint8(generator_path, num_samples, batch_size, seed=0):
    """The uint8 images the CLI scores, rebuilt without its code paths.

    Latents: numpy's default_rng(seed), standard normal, drawn batch by batch
    (`evaluation.generator_batches`); quantisation: round(clip((x + 1) * 127.5,
    0, 255)), round half to even (docs/maths.md's x_uint8), in numpy.
    """
    gen = keras.saving.load_model(generator_path, safe_mode=True, compile=False)
    rng = np.random.default_rng(seed)
    images = []
    for start in range(0, num_samples, batch_size):
        z = rng.standard_normal((min(batch_size, num_samples - start), gen.z_dim))
        images.append(np.asarray(gen(z.astype(np.float32), training=False), np.float64))
    x = np.concatenate(images)
    return np.round(np.clip((x + 1.0) * 127.5, 0.0, 255.0)).astype(np.uint8)


def _numpy_fid(features1, features2):
    """FID of two feature sets, float64 numpy, without any d x d matrix.

    With centred features A1 [n1, d], A2 [n2, d] and unbiased covariances
    S_i = A_i^T A_i / (n_i - 1): the non-zero eigenvalues of S1 S2 are those of
    (A1 A2^T)(A1 A2^T)^T / ((n1 - 1)(n2 - 1)), so tr sqrt(S1 S2) is the sum of
    the singular values of A1 A2^T / sqrt((n1 - 1)(n2 - 1)) (exact, also when
    n < d and the covariances are singular), and tr S_i = |A_i|_F^2 / (n_i - 1).
    """
    f1, f2 = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    (n1, _), (n2, _) = f1.shape, f2.shape
    a1, a2 = f1 - f1.mean(0), f2 - f2.mean(0)
    cross = (a1 @ a2.T) / np.sqrt((n1 - 1) * (n2 - 1))
    trace_sqrt = np.linalg.svd(cross, compute_uv=False).sum()
    traces = (a1**2).sum() / (n1 - 1) + (a2**2).sum() / (n2 - 1)
    return float(((f1.mean(0) - f2.mean(0)) ** 2).sum() + traces - 2.0 * trace_sqrt)


def test_generator_cli_writes_json(tiny_dataset, saved_generator, extractor, recwarn):
    out = str(tiny_dataset / "eval.json")
    record = _run(["--generator", saved_generator, "--dataset", "tiny", "--num-samples", "6",
                   "--real-samples", "8", "--kid-samples", "6", "--out", out])
    with open(out) as f:
        written = json.load(f)
    assert written == json.loads(json.dumps(record))
    # The value: FID recomputed from Inception features of the same images (the
    # generator's on the CLI's latents, quantised; the first 8 real ones).
    fake = extractor(_generated_uint8(saved_generator, 6, 4))
    real = extractor(_tiny_loader("train", 32)[:8])
    assert fake.shape == (6, 2048) and real.shape == (8, 2048)
    # Agrees to ~1e-16 here; flooring instead of rounding the images moves it by 2e-3.
    assert written["metrics"]["fid6"] == pytest.approx(_numpy_fid(real, fake), rel=1e-5)
    assert set(written["metrics"]) == {"fid6", "kid6", "kid6_std"}
    assert written["metrics"]["fid6"] > 0 and written["metrics"]["kid6_std"] is None  # one block
    assert written["real"] == {"dataset": "tiny", "split": "train", "num_samples": 8, "image_size": 32}
    assert any("singular" in str(w.message) for w in recwarn)  # 6 samples < 2048 features


def test_run_folder_and_dataset_split_as_fake_side(tiny_dataset, saved_generator, stand_in_features):
    run = tiny_dataset / "run"
    (run / "checkpoints").mkdir(parents=True)
    os.replace(saved_generator, run / "checkpoints" / "ema_generator.keras")
    (run / "config.json").write_text(json.dumps({"data": {"source": "tiny", "batch_size": 32}}))
    record = _run(["--run", str(run), "--num-samples", "6", "--real-samples", "8", "--metrics", "fid"])
    assert (run / "evaluation.json").is_file() and list(record["metrics"]) == ["fid6"]
    assert record["seed"] == 0 and record["real"]["num_samples"] == 8
    # Without --real-samples and --seed: the run's own protocol (train.eval_real_samples, seed),
    # that of its in-training FID.
    (run / "config.json").write_text(json.dumps({"seed": 3, "data": {"source": "tiny"},
                                                 "train": {"eval_real_samples": 7}}))
    own = _run(["--run", str(run), "--num-samples", "6", "--metrics", "fid", "--out",
                str(tiny_dataset / "own.json")])
    assert own["seed"] == 3 and own["real"]["num_samples"] == 7
    assert own["metrics"]["fid6"] != record["metrics"]["fid6"]
    # A dataset split on the "generated" side: test vs train; identical sets give FID ~ 0.
    same = _run(["--fake-dataset", "tiny:train", "--dataset", "tiny", "--num-samples", "8",
                 "--real-samples", "8", "--metrics", "fid,kid"])
    assert abs(same["metrics"]["fid8"]) < 1e-3 and same["evaluated"] == "dataset:tiny:train"
    other = _run(["--fake-dataset", "tiny:test", "--dataset", "tiny", "--num-samples", "8",
                  "--real-samples", "8", "--metrics", "fid"])
    assert other["metrics"]["fid8"] > 1.0


def test_preset_source_scores_as_its_generator_file(tiny_dataset, saved_generator, stand_in_features):
    from vitgan_tf.models import preset_utils

    preset = preset_utils.save_to_preset(keras.saving.load_model(saved_generator, safe_mode=True),
                                         tiny_dataset / "preset")
    argv = ["--dataset", "tiny", "--num-samples", "6", "--real-samples", "8", "--metrics", "fid"]
    from_preset = _run(["--preset", preset, *argv])
    from_file = _run(["--generator", saved_generator, *argv])
    assert from_preset["metrics"] == from_file["metrics"] and from_preset["evaluated"] == f"preset:{preset}"
    with pytest.raises(SystemExit):
        evaluate.run(["--preset", str(tiny_dataset / "nothing"), "--dataset", "tiny"])


def test_cli_checks_paths_before_work(tiny_dataset, saved_generator, capsys, monkeypatch):
    bad = [
        (["--run", str(tiny_dataset / "nope")], "--run: Run folder not found"),
        (["--run", str(tiny_dataset)], "is not a training run folder"),  # no config.json
        (["--generator", str(tiny_dataset / "g.keras"), "--dataset", "tiny"], "generator file not found"),
        (["--generator", saved_generator], "--dataset is required"),
        (["--generator", saved_generator, "--dataset", "tiny", "--metrics", "fid,psnr"], "--metrics"),
        (["--generator", saved_generator, "--dataset", "tiny", "--out", str(tiny_dataset / "x" / "e.json")],
         "--out folder does not exist"),
        (["--generator", saved_generator, "--dataset", "tiny", "--num-samples", "0"], "Expected --num-samples in [1, 200000]. Received: 0"),
        (["--generator", saved_generator, "--dataset", "tiny", "--num-samples", "10000000"],
         "Expected --num-samples in [1, 200000]. Received: 10000000"),
        (["--fake-dataset", "tiny", "--dataset", "tiny"], "NAME:SPLIT"),
        (["--generator", saved_generator, "--dataset", "tiny", "--metrics", "is",
          "--is-classifier", str(tiny_dataset / "missing")], "--is-classifier not found"),
    ]
    untrained = tiny_dataset / "untrained_run"  # a run that has not saved a checkpoint yet
    untrained.mkdir()
    (untrained / "config.json").write_text(json.dumps({"data": {"source": "tiny"}}))
    bad.append((["--run", str(untrained)], "has no 'ema_generator' checkpoint"))
    for argv, message in bad:
        with pytest.raises(SystemExit):
            _run(argv)
        assert message in capsys.readouterr().err, argv
    # IS without any local classifier: a clear error before any Inception pass.
    monkeypatch.setenv("VITGAN_TF_CACHE", str(tiny_dataset / "empty_cache"))
    monkeypatch.setenv("KERAS_HOME", str(tiny_dataset / "keras_home"))
    with pytest.raises(FileNotFoundError, match="tfgan/eval/inception/1"):
        _run(["--generator", saved_generator, "--dataset", "tiny", "--metrics", "is"])


def test_reference_statistics_are_cached(tiny_dataset, extractor):
    first = evaluation.reference_statistics("tiny", "train", num_samples=10, kid_samples=5,
                                            extractor=extractor, progress=False)
    path = tiny_dataset / "cache" / "reference" / "tiny-train-32px-10-inception-2015-12-05.npz"
    assert path.is_file()

    class Forbidden:
        def __call__(self, images):
            raise AssertionError("the cache should have been used")

    again = evaluation.reference_statistics("tiny", "train", num_samples=10, kid_samples=5,
                                            extractor=Forbidden(), progress=False)
    np.testing.assert_array_equal(again.stats.mean, first.stats.mean)
    np.testing.assert_array_equal(again.stats.covariance, first.stats.covariance)
    np.testing.assert_array_equal(again.activations, first.activations)
    assert again.count == 10 and again.activations.shape == (5, 2048)
    # Streaming over batches equals the features of all images at once.
    feats = extractor(datasets.load_dataset("tiny", "train", num_samples=10))
    np.testing.assert_allclose(first.stats.mean, feats.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(first.activations, feats[:5], atol=1e-5)


class _FakeHubInception(tf.Module):
    """Stands for tfgan/eval/inception/1: dict of logits and pool_3."""

    def __init__(self):
        super().__init__()
        self.w = tf.Variable(np.random.default_rng(0).normal(size=(3, 1008)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, 299, 299, 3], tf.float32)])
    def __call__(self, images):
        pooled = tf.reduce_mean(images, axis=[1, 2])
        return {"logits": 10.0 * pooled @ self.w, "pool_3": tf.zeros([tf.shape(images)[0], 2048])}


def test_is_classifier_from_saved_model(tmp_path):
    path = str(tmp_path / "tfgan_eval_inception_1")
    module = _FakeHubInception()
    tf.saved_model.save(module, path)
    clf = classifiers.load_logits_classifier(path, batch_size=3)
    images = np.random.default_rng(1).integers(0, 256, (5, 16, 16, 3)).astype(np.uint8)
    expected = module(inception.InceptionPreprocessing()(images.astype(np.float32)))["logits"]
    np.testing.assert_allclose(clf(images), expected, atol=1e-4)
    with pytest.raises(FileNotFoundError, match="not a SavedModel"):
        classifiers.load_logits_classifier(str(tmp_path))


def test_is_in_cli(tiny_dataset, saved_generator, monkeypatch):
    path = str(tiny_dataset / "hub")
    tf.saved_model.save(_FakeHubInception(), path)

    def no_pool3(*args, **kwargs):
        raise AssertionError("IS alone built the pool_3 Inception network")

    monkeypatch.setattr(inception, "InceptionFeatureExtractor", no_pool3)
    record = _run(["--generator", saved_generator, "--dataset", "tiny", "--num-samples", "6",
                   "--real-samples", "8", "--metrics", "is", "--is-classifier", path])
    assert list(record["metrics"]) == ["is6"] and record["is_classifier"].startswith("savedmodel:")
    assert record["real"] is None and record["features"] is None and record["num_samples"] == 6
    # The value: IS = exp(mean_i KL(p(y|x_i) || p(y))) over all 6 images (one split, as
    # TF-GAN's classifier_score_from_logits), from the fake classifier's logits on the
    # images the CLI scored. Its input: the uint8 images resized to 299x299 with TF1
    # resize_bilinear (no half-pixel centres), (x - 128) / 128, grey -> 3 channels.
    images = _generated_uint8(saved_generator, 6, 4)
    resized = tf.compat.v1.image.resize_bilinear(images.astype(np.float32), [299, 299],
                                                 align_corners=False).numpy()
    pooled = ((resized.astype(np.float64) - 128.0) / 128.0).mean(axis=(1, 2))  # [6, 1]
    logits = 10.0 * np.repeat(pooled, 3, axis=1) @ _FakeHubInception().w.numpy().astype(np.float64)
    log_p = logits - logits.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    p = np.exp(log_p)
    kl = (p * (log_p - np.log(p.mean(0)))).sum(1)
    expected = float(np.exp(kl.mean()))
    assert expected > 1.01  # the images differ enough for the score to say something
    assert record["metrics"]["is6"] == pytest.approx(expected, rel=1e-4), (record, kl)
    assert np.log(record["metrics"]["is6"]) == pytest.approx(kl.mean(), rel=1e-4)


class _ToyGAN(keras.Model):
    """Minimal training model exposing `ema_generator`, as the real GAN will."""

    def __init__(self, generator):
        super().__init__(name="toy_gan")
        self.ema_generator = generator
        self.dense = keras.layers.Dense(1)

    def call(self, x):
        return self.dense(x)


class _Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batch_logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.batch_logs.append(dict(logs))


def test_fid_callback_logs_named_metrics(tiny_dataset):
    extractor = pixel_features
    gan = _ToyGAN(StandInGenerator())
    gan.compile(optimizer="sgd", loss="mse")
    cb = callback_lib.FIDCallback("tiny", every_n_steps=2, num_samples=6, kid_samples=4,
                                  real_samples=8, batch_size=3, extractor=extractor, verbose=0)
    recorder = _Recorder()
    x = np.zeros((8, 2), np.float32)
    history = gan.fit(x, x[:, :1], batch_size=2, epochs=1, callbacks=[cb, recorder], verbose=0)
    assert [step for step, _ in cb.history] == [2, 4]
    # KID on 4 < 1024 samples is one block: its std is undefined (NaN) and not logged.
    names = {"fid6", "kid4"}
    assert not any("_std" in key for logs in recorder.batch_logs for key in logs)
    assert [sorted(names & set(logs)) for logs in recorder.batch_logs] == [[], sorted(names), [], sorted(names)]
    assert names <= set(history.history)
    # Fixed latents: the same generator gives the same FID at both steps.
    assert cb.history[0][1]["fid6"] == pytest.approx(cb.history[1][1]["fid6"], rel=1e-6)
    with pytest.raises(ValueError, match="kid_samples"):
        callback_lib.FIDCallback("tiny", num_samples=10, kid_samples=11)


def test_fid_callback_caches_only_inception_statistics(tiny_dataset):
    """A stand-in extractor's reference features never land in the Inception cache."""
    extractor = pooled_pixels

    reference = tiny_dataset / "cache" / "reference"

    def fit(**kwargs):
        gan = _ToyGAN(StandInGenerator())
        gan.compile(optimizer="sgd", loss="mse")
        cb = callback_lib.FIDCallback("tiny", every_n_steps=1, num_samples=4, kid_samples=0,
                                      real_samples=8, extractor=extractor, verbose=0, **kwargs)
        x = np.zeros((2, 2), np.float32)
        gan.fit(x, x[:, :1], batch_size=2, epochs=1, callbacks=[cb], verbose=0)
        return cb.history[-1][1]["fid4"]

    fit()
    assert not reference.exists() or not list(reference.iterdir())
    fit(cache=True)  # asked for: the stand-in's statistics are cached
    assert [p.name for p in reference.iterdir()] == ["tiny-train-32px-8-inception-2015-12-05.npz"]
    cached = evaluation.ImageStatistics.load(str(next(reference.iterdir())))
    fresh = evaluation.reference_statistics("tiny", num_samples=8, extractor=extractor, cache=False)
    np.testing.assert_allclose(cached.stats.mean, fresh.stats.mean, rtol=1e-6)


def test_fid_callback_needs_ema_generator(tiny_dataset, extractor):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    cb = callback_lib.FIDCallback("tiny", every_n_steps=1, num_samples=4, kid_samples=0,
                                  real_samples=8, extractor=extractor, verbose=0)
    with pytest.raises(AttributeError, match="ema_generator"):
        model.fit(np.zeros((2, 2)), np.zeros((2, 1)), epochs=1, callbacks=[cb], verbose=0)


def test_fashion_mnist_loader():
    if not os.path.exists(os.path.join(data.FASHION_MNIST_DIR, data.FASHION_MNIST_FILES["test"])):
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    images = datasets.load_dataset("fashion_mnist", "test", num_samples=5)
    raw = data.load_fashion_mnist("test")
    assert raw.shape == (10000, 28, 28, 1) and images.shape == (5, 32, 32, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[:, 2:30, 2:30], raw[:5])
    assert images[:, :2].max() == 0 and images[:, :, 30:].max() == 0  # background padding
    assert datasets.load_dataset("fashion_mnist", "test", image_size=28, num_samples=2).shape == (2, 28, 28, 1)
    with pytest.raises(ValueError, match="splits"):
        datasets.load_dataset("fashion_mnist", "validation")
    with pytest.raises(ValueError, match="Unknown dataset"):
        datasets.load_dataset("imagenet", "train")


def _tiny_rgb16_loader(split, image_size):
    rng = np.random.default_rng({"train": 0, "test": 1}[split])
    return rng.integers(0, 256, (12, image_size or 16, image_size or 16, 3)).astype(np.uint8)


def test_training_run_writes_its_fid_curve(tiny_dataset, monkeypatch, tmp_path):
    from vitgan_tf.training import run  # noqa: PLC0415

    extractor = pixel_features

    monkeypatch.setitem(datasets.DATASETS, "synthetic", (_tiny_rgb16_loader, 16))
    monkeypatch.setattr(inception, "InceptionFeatureExtractor", lambda *a, **k: extractor)
    config = {"model": {"preset": "tiny"}, "data": {"source": "synthetic", "batch_size": 4},
              "train": {"steps": 4, "log_every": 2, "sample_every": 4, "num_samples": 4,
                        "eval_every": 2, "eval_samples": 4, "final_eval_samples": 6,
                        "eval_real_samples": 8}}
    out = str(tmp_path / "run")
    run.train(config, out, verbose=0)
    records = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
    assert [(r["step"], r["images"]) for r in records] == [(2, 8), (4, 16)]
    assert [sorted(k for k in r if k[:3] in ("fid", "kid")) for r in records] == [
        ["fid4", "kid4"], ["fid4", "fid6", "kid4"]]
    assert 0 < records[0]["train_time"] < records[1]["train_time"] <= records[1]["time"]
    # The final FID is the EMA generator's (checkpointed at the last step) on fixed latents.
    gen = keras.saving.load_model(os.path.join(out, "checkpoints", "ema_generator.keras"))
    real = evaluation.reference_statistics("synthetic", "train", image_size=16, num_samples=8,
                                           extractor=extractor, progress=False)
    fake = evaluation.collect_statistics(evaluation.generator_batches(gen, 6, 50, 0), extractor, 6,
                                         progress=False)
    expected = evaluation.compute_metrics(real, fake, ("fid",))["fid6"]
    assert records[1]["fid6"] == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="multiple of train.log_every"):
        run.train(run.merge(config, {"train": {"eval_every": 3}}), str(tmp_path / "bad"), verbose=0)
    monkeypatch.delitem(datasets.DATASETS, "synthetic")  # the one list of evaluation datasets
    with pytest.raises(ValueError, match="reference statistics"):
        run.train(config, str(tmp_path / "bad"), verbose=0)


def test_no_inception_network_when_no_evaluation_is_left(monkeypatch):
    from vitgan_tf.training import run  # noqa: PLC0415

    built = []
    monkeypatch.setattr(inception, "InceptionFeatureExtractor", lambda *a, **k: built.append(1))

    def callbacks(start_step, **train):
        config = run.merge(run.base_config(), {"data": {"source": "fashion_mnist"}, "train": train})
        return [(c.every_n_steps, c.num_samples, c.kid_samples)
                for c in run.evaluation_callbacks(config, start_step)]

    # A short look at a recipe that evaluates every 4800 steps; a finished run resumed.
    assert callbacks(0, steps=2000, eval_every=4800) == []
    assert callbacks(9600, steps=9600, eval_every=4800, final_eval_samples=10000) == []
    assert built == []
    assert callbacks(4800, steps=9600, eval_every=4800) == [(4800, 2000, 2000)]
    # No periodic evaluation left: the final one still has the run's KID.
    assert callbacks(4800, steps=9000, eval_every=4800, final_eval_samples=10000) == [
        (9000, 10000, 2000)]
    assert callbacks(0, steps=9000, final_eval_samples=10000) == [(9000, 10000, 0)]
    assert len(built) == 3


def test_collect_statistics_without_extractor_takes_logits_only():
    images = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 1), dtype=np.uint8)
    calls = []

    def classifier(batch):
        calls.append(len(batch))
        return np.asarray(batch, np.float32).reshape(len(batch), -1)[:, :3]

    stats = evaluation.collect_statistics(evaluation.array_batches(images, 2), None, 5,
                                          classifier=classifier, progress=False)
    assert stats.stats is None and stats.activations is None and stats.count == 5 and calls == [2, 2, 1]
    np.testing.assert_array_equal(stats.logits, images.reshape(5, -1)[:, :3].astype(np.float32))
    with pytest.raises(ValueError, match="only IS logits"):
        evaluation.collect_statistics(evaluation.array_batches(images, 2), None, 5, progress=False)
    with pytest.raises(ValueError, match="only IS logits"):
        evaluation.collect_statistics(evaluation.array_batches(images, 2), None, 5, kid_samples=2,
                                      classifier=classifier, progress=False)
