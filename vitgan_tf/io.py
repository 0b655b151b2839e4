"""Atomic file writes: a run killed at any moment leaves only complete files."""

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
