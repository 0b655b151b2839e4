"""Atomic file writes (a run killed at any moment leaves only complete files),
the checks of output paths given on the command line, and the one reader of
`.npz` archives from outside (datasets, statistics, converted weights)."""

import contextlib
import os
import zipfile
import zlib

import numpy as np


@contextlib.contextmanager
def read_npz(path, what="file"):
    """`np.load(path, allow_pickle=False)` of an `.npz` archive, as a context manager.

    Every way a corrupt, truncated or foreign file fails (not a zip, a bad
    member, a missing array, a plain `.npy`, pickled objects) becomes one
    `ValueError` naming `what` and `path`; a missing file stays
    `FileNotFoundError`. Errors raised by the caller's own checks inside the
    block pass unchanged.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {path!r}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{what} {path!r} is not a readable .npz archive "
                         f"({type(error).__name__}: {error})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{what} {path!r} is a single .npy array, not an .npz archive")
    try:
        with archive:
            yield archive
    except KeyError as error:
        raise ValueError(f"{what} {path!r} lacks an expected array ({error}); "
                         f"it holds {sorted(archive.files)}") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(f"{what} {path!r} is corrupt ({type(error).__name__}: {error})") from None


def atomic_write(path, write_fn, suffix=""):
    """Calls `write_fn(tmp_path)`, then renames the temporary file to `path`.

    The temporary file sits in the destination folder (created if missing),
    so the final `os.replace` is atomic; it is removed if `write_fn` fails.
    `suffix` is appended to the temporary name (for writers that infer the
    format from the extension).
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.path.basename(path)}{suffix}")
    try:
        write_fn(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_text(path, text):
    """Writes `text` to `path` atomically (flushed and fsynced first)."""

    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, write)


def check_output_folder(path, flag="--out"):
    """Raises `NotADirectoryError` naming `flag` if `path` exists and is not a folder.

    The one check of every command's output folder (training run, export,
    ablation, GPU check), before anything is written; the folder itself is
    created later, by whoever writes into it.
    """
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotADirectoryError(f"{flag} {path!r} is a file; give a folder")


def check_new_folder(path, flag="--out"):
    """`check_output_folder`, and `FileExistsError` naming `flag` if `path` holds anything:
    for outputs written whole into a folder of their own (a preset, the web demo)."""
    check_output_folder(path, flag)
    if os.path.isdir(path) and os.listdir(path):
        raise FileExistsError(f"{flag} {os.fspath(path)!r} exists and is not empty; choose a new folder")


def check_output_file(path, flag="--out"):
    """Raises `ValueError` naming `flag` unless `path` can be written as a file.

    For paths from the command line, checked before any work is done.
    """
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"{flag} is a directory: {path!r}")
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise ValueError(f"{flag} folder does not exist or is not writable: {parent!r}")


def check_output_arg(parser, path, flag="--out"):
    """`check_output_file` for a command-line argument: a failed check ends the command
    through `parser.error` (its one-line message, exit code 2) before any work is done."""
    try:
        check_output_file(path, flag)
    except ValueError as error:
        parser.error(str(error))
