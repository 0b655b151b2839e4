"""Smoke-test recipe: the `tiny` preset on synthetic data.

Expected result: finite losses, a checkpoint and sample grids of noise-like
blobs; it checks the plumbing, not image quality.
Hardware: any CPU. Wall time: about 20 s (2 cores).
Command: python -m recipes.train tiny --out runs/tiny
"""


def get_config():
    return {
        "seed": 0,
        "model": {"preset": "tiny"},
        "data": {"source": "synthetic", "batch_size": 8},
        "train": {"steps": 20, "log_every": 10, "sample_every": 10, "num_samples": 16},
    }
