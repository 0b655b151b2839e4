"""bench/train_step.py (one row per process, its figures, the baseline comparison) and
bench/profile_step.py."""

import json
import os

import pytest

from tests.bench_scripts import load_bench_script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
train_step = load_bench_script("train_step")

TINY = ["--source", "preset:tiny", "--compile", "function", "--mode", "minimal", "--warmup", "1",
        "--peak-sizes", "128,256"]


def test_rows_run_in_their_own_process_against_a_baseline_checkout(tmp_path, capsys):
    out = tmp_path / "rows.json"
    # The baseline is this checkout too: the ratio is then noise around 1.
    summary = train_step.main([*TINY, "--baseline", ROOT, "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(summary))
    assert summary["cpu"] and summary["matmul_peak_gflops"] == max(summary["matmul_gflops_by_size"].values())
    rows = summary["rows"]
    assert [r["code"] for r in rows] == ["baseline", "current"]
    for row in rows:
        assert row["library"] == ROOT and row["finite"]
        assert row["images_per_s"] == pytest.approx(32 / (row["step_ms"] / 1000))
        assert row["peak_ratio"] == pytest.approx(row["gflops_per_s"] / summary["matmul_peak_gflops"])
        # The child's own peak RSS: TensorFlow alone takes several hundred MB.
        assert 0.3 < row["peak_rss_gb"] < 8
    assert rows[1]["vs_baseline"] == pytest.approx(rows[1]["images_per_s"] / rows[0]["images_per_s"])


def test_rounds_report_the_median_round_and_the_median_ratio(monkeypatch, capsys):
    # Rows stand in for the child processes: images/s per (tree, round) as given here.
    speeds = {"baseline": iter([100.0, 80.0, 120.0]), "current": iter([110.0, 96.0, 114.0])}

    def fake_row(row_args, tree):
        code = "baseline" if tree == "/old" else "current"
        return {"images_per_s": next(speeds[code]), "step_ms": 1.0, "gflops_per_s": 10.0,
                "warmup_s": 0.0, "model_gflop_per_image": 0.1, "peak_rss_gb": {"baseline": 1.0, "current": 2.0}[code], "mode": "minimal",
                "source": "preset:tiny", "batch": 32, "compile": "function", "precision": "float32"}

    monkeypatch.setattr(train_step, "run_row", fake_row)
    monkeypatch.setattr(train_step.os.path, "isfile", lambda path: True)  # "/old" is a checkout
    summary = train_step.main([*TINY, "--baseline", "/old", "--rounds", "3"])
    baseline, current = summary["rows"]
    assert baseline["rounds_images_per_s"] == [100.0, 80.0, 120.0] and baseline["images_per_s"] == 100.0
    assert current["images_per_s"] == 110.0
    # Per-round ratios 1.1, 1.2, 0.95: their median, not the ratio of the medians (1.1).
    assert current["vs_baseline"] == pytest.approx(1.1)
    speeds.update(baseline=iter([100.0, 80.0, 120.0]), current=iter([110.0, 72.0, 114.0]))
    # Ratios 1.1, 0.9, 0.95.
    assert train_step.main([*TINY, "--baseline", "/old", "--rounds", "3"])["rows"][1]["vs_baseline"] \
        == pytest.approx(0.95)
    assert "vs baseline" in capsys.readouterr().out


def test_bad_arguments_are_refused_before_timing(tmp_path, capsys):
    for argv, message in (([*TINY, "--baseline", str(tmp_path)], "not a checkout"),
                          ([*TINY, "--baseline", ROOT, "--in-process"], "drop --in-process"),
                          ([*TINY, "--iters", "3"], "--iters must be >= 5"),
                          ([*TINY, "--rounds", "0"], "argument --rounds: expected an integer in [1, 1000], got 0"),
                          ([*TINY, "--mode", "fast"], "unknown ['fast']")):
        with pytest.raises(SystemExit):
            train_step.main(argv)
        assert message in capsys.readouterr().err


def test_profile_step_sums_the_traced_kernels(capsys):
    profile_step = load_bench_script("profile_step")
    times = profile_step.main(["--source", "preset:tiny", "--mode", "minimal", "--warmup", "1",
                               "--steps", "2"])
    op_types = {op for op, _ in times}
    assert any("MatMul" in op for op in op_types), sorted(op_types)[:20]
    # Forward and gradient kernels of both networks are in the trace.
    scopes = {scope for _, scope in times}
    assert {"generator/block_N/attention", "gradient_tape/discriminator/block_N"} <= scopes, sorted(scopes)
    assert all(ms >= 0 for ms in times.values()) and sum(times.values()) > 0
    assert "| op type | ms per step |" in capsys.readouterr().out
