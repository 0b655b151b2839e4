"""The built-in pretrained preset `vitgan_fashion_mnist`: shipped in the package, loadable
offline, small, and its weights reproduce the quality its metadata states.

Its `metadata.json` holds the run's FID10k and KID (`training.evaluation`, from
`python -m vitgan_tf.evaluate --run RUN --num-samples 10000 --kid-samples 2000`) and a
small-sample check (`check`: FID and KID of `check.num_samples` (100) generated against as
many real images, measured by `export.preset.preset_check` on the written folder). The test
recomputes the check from the shipped files: the FID must come back within float noise (it
is biased at 100 samples, so it is compared with the same measurement, not with FID10k), and
KID, which is unbiased, must agree with the run's KID within the two estimates' noise.
"""

import math
import os

import pytest

from vitgan_tf.metrics.evaluation import metric_name
from vitgan_tf.models import Discriminator, Generator, preset_utils
from vitgan_tf.sources import FASHION_MNIST_DIR, FASHION_MNIST_FILES

NAME = "vitgan_fashion_mnist"


def test_shipped_small_and_described():
    assert NAME in preset_utils.builtin_presets()
    folder = preset_utils.preset_folder(NAME)
    assert os.path.dirname(folder) == preset_utils.BUILTIN_DIR
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    assert size < 8e6, f"the preset holds {size / 1e6:.1f} MB"
    metadata = preset_utils.read_metadata(NAME)
    generator, discriminator = Generator.from_preset(NAME), Discriminator.from_preset(NAME)
    assert metadata["parameter_count"] == generator.count_params()
    assert metadata["discriminator_parameter_count"] == discriminator.count_params()
    training = metadata["training"]
    assert training["recipe"] == "fashion_mnist" and training["steps"] > 0
    assert 100 <= training["train_minutes"] <= 130
    evaluation = training["evaluation"]
    assert evaluation["num_samples"] == 10000 and math.isfinite(evaluation["metrics"]["fid10k"])
    assert training["evaluation_date"] and metadata["keras_version"] and metadata["vitgan_tf_version"]
    assert float(generator.w_avg.numpy().std()) > 0  # trained: the running mean of w moved


@pytest.mark.skipif(not os.path.isfile(os.path.join(FASHION_MNIST_DIR, FASHION_MNIST_FILES["train"])),
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_shipped_weights_reproduce_the_recorded_quality():
    from export.preset import preset_check

    metadata = preset_utils.read_metadata(NAME)
    check, evaluation = metadata["check"], metadata["training"]["evaluation"]["metrics"]
    n = check["num_samples"]
    fid, kid = metric_name("fid", n), metric_name("kid", n)
    got = preset_check(Generator.from_preset(NAME), check["dataset"], n, check["seed"],
                       progress=False)["metrics"]
    want = check["metrics"]
    assert got[fid] == pytest.approx(want[fid], rel=1e-3)
    assert got[kid] == pytest.approx(want[kid], rel=1e-3, abs=1e-5)
    # The FID10k evaluation's KID: on 2000 images per side (`--kid-samples 2000`), "kid2k".
    [recorded] = [k for k in evaluation if k.startswith("kid") and not k.endswith("_std")]
    noise = math.hypot(got[f"{kid}_std"], evaluation[f"{recorded}_std"])
    assert abs(got[kid] - evaluation[recorded]) <= 3 * noise, (got, evaluation)


def test_the_wheel_ships_the_preset(tmp_path):
    """A plain (non-editable) install gets the preset's files: they are package data."""
    import subprocess
    import sys
    import zipfile

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--no-index", "-w", str(tmp_path), root], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    [wheel] = [p for p in os.listdir(tmp_path) if p.endswith(".whl")]
    names = set(zipfile.ZipFile(tmp_path / wheel).namelist())
    folder = preset_utils.preset_folder(NAME)
    for name in os.listdir(folder):
        assert f"vitgan_tf/presets/{NAME}/{name}" in names, name
