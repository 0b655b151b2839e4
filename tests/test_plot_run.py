"""bench/plot_run.py: the FID / KID curve of a run folder."""

import json
import os

import numpy as np
from PIL import Image

from tests.bench_scripts import load_bench_script

plot_run = load_bench_script("plot_run")


def write_run(folder, records, batch=32):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"data": {"batch_size": batch}}, f)
    with open(os.path.join(folder, "metrics.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)


def test_curve_table_and_png(tmp_path, capsys):
    run = str(tmp_path / "run")
    write_run(run, [
        {"step": 100, "time": 30.0, "train_time": 25.0, "d_loss": 1.4},
        {"step": 200, "time": 150.0, "train_time": 50.0, "fid2k": 123.456, "kid2k": 0.0789},
        {"step": 300, "time": 300.0, "train_time": 75.0, "fid2k": 99.0, "kid2k": 0.05, "fid10k": 97.5},
    ])
    assert plot_run.main([run]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| 2") or line.startswith("| 3")]
    # images = step x batch; minutes of train_time; KID x1000.
    assert rows == ["| 200 | 6400 | 0.8 |  | 123.46 | 78.90 |",
                    "| 300 | 9600 | 1.2 | 97.50 | 99.00 | 50.00 |"]
    assert "train_time (min)" in out
    image = np.asarray(Image.open(os.path.join(run, "fid_curve.png")))
    assert image.ndim == 3 and image.shape[0] > 300


def test_old_runs_fall_back_to_wall_time_and_bad_input_is_refused(tmp_path, capsys):
    run = str(tmp_path / "old")
    write_run(run, [{"step": 200, "time": 120.0, "fid2k": 50.0}], batch=8)
    assert plot_run.main([run, "--out", str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr().out
    assert "| 200 | 1600 | 2.0 | 50.00 |" in out and "time (min)" in out
    write_run(str(tmp_path / "none"), [{"step": 1, "time": 1.0, "d_loss": 1.0}])
    assert plot_run.main([str(tmp_path / "none")]) == 2
    assert "no FID / KID" in capsys.readouterr().err
    assert plot_run.main([str(tmp_path / "missing")]) == 2
    assert plot_run.main([run, "--out", str(tmp_path / "c.jpg")]) == 2


def test_several_runs_in_one_figure(tmp_path, capsys):
    a, b = str(tmp_path / "recipe"), str(tmp_path / "dcgan")
    write_run(a, [{"step": 200, "time": 70.0, "train_time": 60.0, "fid2k": 40.0, "kid2k": 0.02}])
    write_run(b, [{"step": 100, "time": 65.0, "train_time": 60.0, "fid2k": 30.0, "kid2k": 0.03}], batch=64)
    out = tmp_path / "pair.png"
    assert plot_run.main([a, b, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.index("recipe:") < text.index("| 200 | 6400 | 1.0 | 40.00 | 20.00 |") \
        < text.index("dcgan:") < text.index("| 100 | 6400 | 1.0 | 30.00 | 30.00 |")
    assert np.asarray(Image.open(out)).shape[0] > 300
    assert plot_run.main([a, b]) == 2
    assert "several runs need --out" in capsys.readouterr().err
    os.makedirs(tmp_path / "other")
    write_run(str(tmp_path / "other" / "recipe"), [{"step": 1, "time": 1.0, "fid2k": 1.0}])
    assert plot_run.main([a, str(tmp_path / "other" / "recipe"), "--out", str(out)]) == 2
    assert "must differ" in capsys.readouterr().err
