"""Atomic file writes (a run killed at any moment leaves only complete files)
and the check of an output path given on the command line."""

import os


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


def check_output_file(path, flag="--out"):
    """Raises `ValueError` naming `flag` unless `path` can be written as a file.

    For paths from the command line, checked before any work is done.
    """
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"{flag} is a directory: {path!r}")
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise ValueError(f"{flag} folder does not exist or is not writable: {parent!r}")
