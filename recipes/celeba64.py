"""CelebA 64x64, the paper's recipe (ViTGAN arXiv 2107.04589 v1, section 5).

Architecture: preset `celeba64` (patch 8, 64 tokens, 6 blocks, hidden 384,
MLP 1536, 6 heads). Same loss, bCR, DiffAugment and Adam as `cifar10`.
Data: `tfds:celeb_a` (needs `pip install tensorflow-datasets` and the
dataset files), centre-cropped and resized to 64x64; or pass a folder of
aligned CelebA JPEGs with `--set data.source=/path/to/img_align_celeba`.

Expected result: the paper reports FID 3.74; not reproduced here.
What is verified: as for `cifar10` (recipes/cifar10.py), with the same
open question about the paper's bCR 10 and DiffAugment p = 0.8,
the same batch-128 CPU probe and the same fallback `--set`s.
Hardware: one or more GPUs. Wall time: not measured.
Command: python -m recipes.train celeba64 --strategy mirrored --out runs/celeba64
"""


def get_config():
    return {
        "seed": 0,
        "model": {"preset": "celeba64"},
        "data": {"source": "tfds:celeb_a", "batch_size": 128},
        "gan": {"bcr_real": 10.0, "bcr_fake": 10.0, "ema_decay": 0.9999},
        "train": {"steps": 500_000, "log_every": 1000, "sample_every": 5000,
                  "precision": "mixed_float16", "jit_compile": True},
    }
