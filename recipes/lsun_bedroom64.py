"""LSUN bedroom 64x64, the paper's recipe (ViTGAN arXiv 2107.04589 v1, section 5).

Architecture: preset `lsun_bedroom64` (as `celeba64`). Same loss, bCR,
DiffAugment and Adam as `cifar10`. Data: `tfds:lsun/bedroom` (needs
`tensorflow-datasets` and the dataset files) or a folder of JPEGs.

Expected result: the paper reports FID 1.49 (we could not verify it).
What is verified: as for `cifar10` (recipes/cifar10.py), with the same
open question about the paper's bCR 10 and DiffAugment p = 0.8,
the same batch-128 CPU probe and the same fallback `--set`s.
Hardware: one or more GPUs. Wall time: not measured.
Command: python -m recipes.train lsun_bedroom64 --strategy mirrored --out runs/lsun_bedroom64
"""


def get_config():
    return {
        "seed": 0,
        "model": {"preset": "lsun_bedroom64"},
        "data": {"source": "tfds:lsun/bedroom", "batch_size": 128},
        "gan": {"bcr_real": 10.0, "bcr_fake": 10.0, "ema_decay": 0.9999},
        "train": {"steps": 500_000, "log_every": 1000, "sample_every": 5000,
                  "precision": "mixed_float16", "jit_compile": True},
    }
