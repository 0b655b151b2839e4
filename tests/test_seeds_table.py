"""bench/seeds_table.py: mean +- std over seeds of runs' FID / KID."""

import numpy as np

from tests.bench_scripts import load_bench_script
from tests.test_plot_run import write_run

seeds_table = load_bench_script("seeds_table")


def _seed(folder, fids, kids, minutes=(12.6, 25.2), steps=(2000, 4000)):
    write_run(folder, [{"step": 100, "time": 10.0, "train_time": 9.0, "d_loss": 1.0}] + [
        {"step": s, "time": 60 * m + 30, "train_time": 60 * m, "fid2k": f, "kid2k": k, "kid2k_std": 1e-4}
        for s, m, f, k in zip(steps, minutes, fids, kids)])


def test_mean_and_sample_std_per_evaluation(tmp_path, capsys):
    fids = [(60.0, 40.0), (62.0, 41.0), (58.0, 39.5)]
    kids = [(0.040, 0.0140), (0.044, 0.0150), (0.042, 0.0160)]
    runs = []
    for seed, (f, k) in enumerate(zip(fids, kids)):
        runs.append(str(tmp_path / f"recipe_seed{seed}"))
        _seed(runs[-1], f, k)
    _seed(str(tmp_path / "dcgan_seed0"), (55.0, 36.6), (0.039, 0.020), minutes=(13.0, 25.4))
    assert seeds_table.main(["--runs", "recipe", *runs, "--runs", "dcgan", str(tmp_path / "dcgan_seed0")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| setting | evaluation | training minutes | steps | fid2k | kid2k x1000 | per seed |"
    end_fid = np.array([f[1] for f in fids])
    end_kid = 1000 * np.array([k[1] for k in kids])
    assert lines[3] == (f"| recipe | 2 | 25.2 | 4000 | {end_fid.mean():.2f} +- {end_fid.std(ddof=1):.2f} | "
                        f"{end_kid.mean():.2f} +- {end_kid.std(ddof=1):.2f} | "
                        "fid2k: 40.00, 41.00, 39.50; kid2k: 14.00, 15.00, 16.00 |")
    assert lines[4] == "| dcgan | 1 | 13.0 | 2000 | 55.00 | 39.00 | fid2k: 55.00; kid2k: 39.00 |"  # one seed: no std


def test_runs_that_do_not_line_up_are_refused(tmp_path, capsys):
    _seed(str(tmp_path / "a"), (60.0, 40.0), (0.04, 0.014))
    write_run(str(tmp_path / "b"), [{"step": 2000, "time": 800.0, "train_time": 760.0, "fid2k": 60.0, "kid2k": 0.04}])
    assert seeds_table.main(["--runs", "x", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "different numbers of evaluations" in capsys.readouterr().err
    assert seeds_table.main(["--runs", "x", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert seeds_table.main(["--runs", "x"]) == 2
    assert "give the setting's run folders" in capsys.readouterr().err
