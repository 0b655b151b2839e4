"""Presets with weights (KerasHub's folder layout): save, load, metadata, deprecation, bad files."""

import json
import os
import warnings

import keras
import numpy as np
import pytest

from vitgan_tf.models import Discriminator, Generator, StyleGAN2Discriminator, preset_utils


def trained_like_pair():
    """A tiny G (w_avg moved off zero) and D (ISN vectors moved), as after training."""
    keras.utils.set_random_seed(0)
    gen, disc = Generator.from_architecture("tiny"), Discriminator.from_architecture("tiny")
    z = np.random.default_rng(0).normal(size=(4, gen.z_dim)).astype("float32")
    disc(gen(z, training=True), training=True)
    return gen, disc, z


def test_generator_roundtrip_and_metadata(tmp_path):
    gen, _, z = trained_like_pair()
    folder = tmp_path / "preset"
    gen.save_to_preset(str(folder), metadata={"recipe": "tiny", "fid10k": 1.5})
    assert sorted(os.listdir(folder)) == ["config.json", "metadata.json", "model.weights.h5"]
    loaded = Generator.from_preset(str(folder))
    assert loaded.get_config() == gen.get_config()
    for a, b in zip(loaded.get_weights(), gen.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # w_avg included
    np.testing.assert_array_equal(loaded.generate(z, 0.7).numpy(), gen.generate(z, 0.7).numpy())
    meta = preset_utils.read_metadata(str(folder))
    assert meta["parameter_count"] == gen.count_params()
    assert (meta["keras_version"], meta["recipe"], meta["fid10k"]) == (keras.__version__, "tiny", 1.5)
    assert meta["vitgan_tf_version"] and meta["date_saved"]
    # load_weights=False: the same architecture, freshly initialised.
    fresh = Generator.from_preset(str(folder), load_weights=False)
    assert fresh.get_config() == gen.get_config()
    assert not np.array_equal(fresh.get_weights()[0], gen.get_weights()[0])


def test_gan_preset_holds_both_networks(tmp_path):
    gen, disc, z = trained_like_pair()
    folder = str(tmp_path / "gan")
    preset_utils.save_to_preset(gen, folder, discriminator=disc)
    images = gen(z).numpy()
    np.testing.assert_array_equal(Generator.from_preset(folder)(z).numpy(), images)
    np.testing.assert_array_equal(Discriminator.from_preset(folder)(images).numpy(), disc(images).numpy())
    with pytest.raises(ValueError, match=r"holds no StyleGAN2Discriminator \(it holds \['Generator', 'Discriminator'\]\)"):
        StyleGAN2Discriminator.from_preset(folder)
    assert preset_utils.read_metadata(folder)["discriminator_parameter_count"] == disc.count_params()


def test_architecture_names_still_build_untrained_with_a_deprecation_warning():
    with pytest.warns(FutureWarning, match=r"builds an UNTRAINED model: 'tiny' is an architecture.*"
                                           r"Generator.from_architecture\('tiny'\)"):
        gen = Generator.from_preset("tiny", depth=2)
    assert gen.get_config() == {**Generator.from_architecture("tiny", depth=2).get_config(), "name": gen.name}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Generator.from_architecture("tiny")  # no warning


def test_bad_preset_folders(tmp_path):
    gen, _, _ = trained_like_pair()
    folder = tmp_path / "p"
    gen.save_to_preset(str(folder))
    with pytest.raises(FileExistsError, match="exists and is not empty"):
        gen.save_to_preset(str(folder))
    with pytest.raises(ValueError, match="Overrides \\['depth'\\] apply to an architecture"):
        Generator.from_preset(str(folder), depth=3)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no config.json: not a preset"):
        Generator.from_preset(str(empty))
    weights = folder / "model.weights.h5"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match="model.weights.h5' are corrupt or do not fit the model"):
        Generator.from_preset(str(folder))
    weights.unlink()
    with pytest.raises(ValueError, match="Preset file missing: .*model.weights.h5"):
        Generator.from_preset(str(folder))
    assert Generator.from_preset(str(folder), load_weights=False).get_config() == gen.get_config()
    config = folder / "config.json"
    config.write_text("{half")
    with pytest.raises(ValueError, match="config.json' \\(model config\\) is corrupt"):
        Generator.from_preset(str(folder))
    # A class outside the allow-list (safe mode) is refused, not imported.
    config.write_text(json.dumps({"module": "os", "class_name": "Generator", "config": {},
                                  "registered_name": "os>system"}))
    with pytest.raises(ValueError, match="does not describe a Generator"):
        Generator.from_preset(str(folder), load_weights=False)


def test_export_writes_a_run_as_a_preset(tmp_path, capsys):
    from export.__main__ import main as export_main

    gen, disc, z = trained_like_pair()
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    gen.save(str(run / "checkpoints" / "ema_generator.keras"))
    disc.save(str(run / "checkpoints" / "discriminator.keras"))
    (run / "checkpoints" / "state.json").write_text(json.dumps({"step": 40}))
    (run / "config.json").write_text(json.dumps({"recipe": "tiny", "seed": 3, "model": {"preset": "tiny"}}))
    records = [{"step": 20, "train_time": 30.0, "images": 160, "fid2k": 90.0, "kid2k": 0.05},
               {"step": 40, "train_time": 61.2, "images": 320, "fid2k": 80.5, "kid2k": 0.04,
                "fid10k": 70.25}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run / "evaluation.json").write_text(json.dumps({"fid10k": 70.0}))
    preset = tmp_path / "preset"
    assert export_main(["--run", str(run), "--to-preset", str(preset)]) == 0, capsys.readouterr().err
    assert "wrote the preset" in capsys.readouterr().out
    np.testing.assert_array_equal(Generator.from_preset(str(preset)).generate(z, 0.5).numpy(),
                                  gen.generate(z, 0.5).numpy())
    images = gen(z).numpy()
    np.testing.assert_array_equal(Discriminator.from_preset(str(preset))(images).numpy(), disc(images).numpy())
    training = preset_utils.read_metadata(str(preset))["training"]
    assert (training["recipe"], training["seed"], training["steps"], training["images"]) == ("tiny", 3, 40, 320)
    assert training["train_minutes"] == 1.02
    assert training["metrics"] == {"fid2k": {"value": 80.5, "step": 40}, "kid2k": {"value": 0.04, "step": 40},
                                   "fid10k": {"value": 70.25, "step": 40}}
    assert training["evaluation"] == {"fid10k": 70.0}
    assert training["metrics_date"] and training["evaluation_date"]
    assert preset_utils.read_metadata(str(preset))["source_run"] == "run"  # its name, not this machine's path
    # Bad input: one line each, nothing written.
    assert export_main(["--run", str(run), "--to-preset", str(preset)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert export_main(["--generator", "g.keras", "--to-preset", str(tmp_path / "p2")]) == 2
    assert "--to-preset writes a training run" in capsys.readouterr().err
    (run / "checkpoints" / "discriminator.keras").unlink()
    assert export_main(["--run", str(run), "--to-preset", str(tmp_path / "p3")]) == 2
    assert "has no 'discriminator' checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "p3").exists()


def test_vitgan_saves_its_ema_generator_and_discriminator(tmp_path):
    from vitgan_tf.training import ViTGAN

    gen, disc, z = trained_like_pair()
    gan = ViTGAN(gen, disc, seed=0)
    gan.ema_generator.set_weights([w * 0.5 for w in gen.get_weights()])  # unlike G
    folder = str(tmp_path / "gan")
    gan.save_to_preset(folder, metadata={"note": "tiny"})
    np.testing.assert_array_equal(Generator.from_preset(folder)(z).numpy(), gan.ema_generator(z).numpy())
    images = gen(z).numpy()
    np.testing.assert_array_equal(Discriminator.from_preset(folder)(images).numpy(), disc(images).numpy())
    assert preset_utils.read_metadata(folder)["note"] == "tiny"


def test_export_reads_a_preset(tmp_path, capsys):
    """`python -m export --preset P --out O`: the preset's generator, as TFLite, same pixels."""
    from export.__main__ import main as export_main
    from export.common import to_uint8_tensor
    from ai_edge_litert.interpreter import Interpreter

    gen, disc, z = trained_like_pair()
    preset = preset_utils.save_to_preset(gen, tmp_path / "preset")
    out = tmp_path / "exported"
    assert export_main(["--preset", preset, "--out", str(out), "--formats", "tflite",
                        "--variants", "float32"]) == 0, capsys.readouterr().err
    [path] = [os.path.join(d, f) for d, _, files in os.walk(out) for f in files if f.endswith(".tflite")]
    runner = Interpreter(model_path=path).get_signature_runner("serving_default")
    got = runner(z=z)["images"]
    want = to_uint8_tensor(gen(z)).numpy()
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    # One source only, in one line.
    with pytest.raises(SystemExit):  # argparse's one line
        export_main(["--preset", preset, "--run", "r", "--out", str(out)])
    assert "not allowed with argument" in capsys.readouterr().err
    assert export_main(["--preset", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    assert "Unknown preset" in capsys.readouterr().err
    assert export_main(["--preset", preset, "--out", str(out), "--check-samples", "50"]) == 2
    assert "--check-samples only applies to --to-preset" in capsys.readouterr().err


def test_export_records_an_evaluation_of_a_preset(tmp_path, capsys):
    """`python -m export --preset DIR --record-evaluation EVAL`: the evaluator's record of that
    preset becomes its `training.evaluation`; the rest of the metadata stays."""
    from export.__main__ import main as export_main

    gen, _, _ = trained_like_pair()
    preset = preset_utils.save_to_preset(gen, tmp_path / "preset", {"training": {"recipe": "tiny", "steps": 7}})
    record = {"metrics": {"fid10k": 12.5, "kid2k": 0.004, "kid2k_std": 0.0002}, "num_samples": 10000,
              "evaluated": f"preset:{preset}", "kid_samples": 2000, "seed": 0}
    evaluation = tmp_path / "eval.json"
    evaluation.write_text(json.dumps(record))
    before = preset_utils.read_metadata(preset)
    assert export_main(["--preset", preset, "--record-evaluation", str(evaluation)]) == 0, capsys.readouterr().err
    assert "recorded ['fid10k', 'kid2k', 'kid2k_std'] of 10000 samples" in capsys.readouterr().out
    after = preset_utils.read_metadata(preset)
    assert after["training"] == {"recipe": "tiny", "steps": 7, "evaluation": record,
                                 "evaluation_date": after["training"]["evaluation_date"]}
    assert after["training"]["evaluation_date"].startswith("20")
    assert {k: v for k, v in after.items() if k != "training"} == {k: v for k, v in before.items() if k != "training"}
    # Bad input: one line each, the metadata untouched.
    other = preset_utils.save_to_preset(gen, tmp_path / "other")
    bad = {"another preset's": (json.dumps(dict(record, evaluated=f"preset:{other}")), "not the preset"),
           "a generator file's": (json.dumps(dict(record, evaluated="generator:g.keras")), "not the preset"),
           "no metrics": (json.dumps({"fid10k": 1.0}), "no metrics and num_samples"),
           "corrupt": ('{"metrics": ', "is corrupt: JSONDecodeError")}
    for what, (text, message) in bad.items():
        evaluation.write_text(text)
        assert export_main(["--preset", preset, "--record-evaluation", str(evaluation)]) == 2, what
        assert message in capsys.readouterr().err, what
    assert export_main(["--preset", preset, "--record-evaluation", str(tmp_path / "none.json")]) == 2
    assert "evaluation file not found" in capsys.readouterr().err
    assert export_main(["--preset", "vitgan_fashion_mnist", "--record-evaluation", str(evaluation)]) == 2
    assert "is not a preset folder" in capsys.readouterr().err  # a built-in name: the package is not written
    assert export_main(["--generator", "g.keras", "--record-evaluation", str(evaluation)]) == 2
    assert "give --preset PRESET_DIR" in capsys.readouterr().err
    assert preset_utils.read_metadata(preset) == after


def _run_folder(root, gen, disc, source="fashion_mnist"):
    (root / "checkpoints").mkdir(parents=True)
    gen.save(str(root / "checkpoints" / "ema_generator.keras"))
    disc.save(str(root / "checkpoints" / "discriminator.keras"))
    (root / "checkpoints" / "state.json").write_text(json.dumps({"step": 10}))
    (root / "config.json").write_text(json.dumps({"recipe": "fashion_mnist", "seed": 0,
                                                  "data": {"source": source}}))
    return root


def test_run_preset_records_a_check_the_evaluator_reproduces(tmp_path, monkeypatch):
    from export.preset import write_run_preset
    from tests.pixel_features import pooled_pixels
    from tests.test_ablation import FASHION_MNIST
    from vitgan_tf.metrics import evaluation

    if not os.path.isfile(FASHION_MNIST):
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    monkeypatch.setenv("VITGAN_TF_CACHE", str(tmp_path / "cache"))
    keras.utils.set_random_seed(0)
    gen = Generator.from_architecture("tiny", image_size=32, channels=1)
    disc = Discriminator.from_architecture("tiny", image_size=32, channels=1)
    run = _run_folder(tmp_path / "run", gen, disc)
    preset = write_run_preset(str(run), str(tmp_path / "preset"), check_samples=20,
                              extractor=pooled_pixels)
    check = preset_utils.read_metadata(preset)["check"]
    assert (check["dataset"], check["num_samples"], check["seed"]) == ("fashion_mnist", 20, 0)
    real = evaluation.reference_statistics("fashion_mnist", "train", 32, num_samples=20,
                                           kid_samples=20, extractor=pooled_pixels, cache=False)
    want = evaluation.evaluate_generator(gen, real, pooled_pixels, 20, kid_samples=20, seed=0,
                                         kid_block_size=4)  # 5 blocks: KID's std is defined
    assert set(check["metrics"]) == {"fid20", "kid20", "kid20_std"}
    for key, value in want.items():
        np.testing.assert_allclose(check["metrics"][key], value, rtol=1e-5, err_msg=key)
    # A check that cannot run is refused before anything is written; one that fails midway
    # removes the folder again.
    synthetic = _run_folder(tmp_path / "synthetic", gen, disc, source="synthetic")
    with pytest.raises(ValueError, match="trained on 'synthetic', not one of"):
        write_run_preset(str(synthetic), str(tmp_path / "p2"), check_samples=20, extractor=pooled_pixels)
    with pytest.raises(ValueError, match=r"Expected check_samples in \[10, 60000\]"):
        write_run_preset(str(run), str(tmp_path / "p3"), check_samples=5, extractor=pooled_pixels)

    def broken(images):
        raise RuntimeError("extractor failed")

    with pytest.raises(RuntimeError, match="extractor failed"):
        write_run_preset(str(run), str(tmp_path / "p4"), check_samples=20, extractor=broken)
    assert not any((tmp_path / name).exists() for name in ("p2", "p3", "p4"))


def test_export_records_a_presets_check_again(tmp_path, monkeypatch, capsys):
    """`python -m export --preset DIR --record-check --check-samples N`: the check of the
    preset's own weights, at N samples, replaces `metadata["check"]`; the rest stays."""
    from export.__main__ import main as export_main
    from tests.pixel_features import pooled_pixels
    from tests.test_ablation import FASHION_MNIST
    from vitgan_tf.metrics import evaluation, inception

    if not os.path.isfile(FASHION_MNIST):
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    monkeypatch.setenv("VITGAN_TF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(inception, "InceptionFeatureExtractor", lambda *a, **k: pooled_pixels)
    keras.utils.set_random_seed(0)
    gen = Generator.from_architecture("tiny", image_size=32, channels=1)
    training = {"recipe": "fashion_mnist", "evaluation": {"real": {"dataset": "fashion_mnist"}}}
    preset = preset_utils.save_to_preset(gen, tmp_path / "preset", {"training": training})
    before = preset_utils.read_metadata(preset)
    assert export_main(["--preset", preset, "--record-check", "--check-samples", "20"]) == 0, \
        capsys.readouterr().err
    assert "recorded the check of 20 samples (fid20 " in capsys.readouterr().out
    after = preset_utils.read_metadata(preset)
    check = after.pop("check")
    assert after == before
    assert (check["dataset"], check["num_samples"], check["seed"]) == ("fashion_mnist", 20, 0)
    real = evaluation.reference_statistics("fashion_mnist", "train", 32, num_samples=20,
                                           kid_samples=20, extractor=pooled_pixels, cache=False)
    want = evaluation.evaluate_generator(gen, real, pooled_pixels, 20, kid_samples=20, seed=0,
                                         kid_block_size=4)  # 5 blocks: KID's std is defined
    assert set(check["metrics"]) == set(want) == {"fid20", "kid20", "kid20_std"}
    for key, value in want.items():
        np.testing.assert_allclose(check["metrics"][key], value, rtol=1e-5, err_msg=key)
    # Again at 10 samples: the dataset now comes from the check, which is replaced.
    assert export_main(["--preset", preset, "--record-check", "--check-samples", "10"]) == 0
    assert set(preset_utils.read_metadata(preset)["check"]["metrics"]) == {"fid10", "kid10", "kid10_std"}
    # Bad input: one line each, nothing written.
    recorded = preset_utils.read_metadata(preset)
    nameless = preset_utils.save_to_preset(gen, tmp_path / "nameless", {"training": {"recipe": "tiny"}})
    bad = {
        "no dataset named": (["--preset", nameless, "--record-check", "--check-samples", "20"],
                             "needs real images: the metadata of"),
        "a built-in name": (["--preset", "vitgan_fashion_mnist", "--record-check", "--check-samples", "20"],
                            "is not a preset folder"),
        "no --check-samples": (["--preset", preset, "--record-check"], "give --preset PRESET_DIR and --check-samples N"),
        "no --preset": (["--generator", "g.keras", "--record-check", "--check-samples", "20"],
                        "give --preset PRESET_DIR and --check-samples N"),
    }
    for what, (argv, message) in bad.items():
        assert export_main(argv) == 2, what
        assert message in capsys.readouterr().err, what
    assert preset_utils.read_metadata(preset) == recorded
    assert "check" not in preset_utils.read_metadata(nameless)
