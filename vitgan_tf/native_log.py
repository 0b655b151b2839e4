"""TensorFlow's native start-up lines, kept off the terminal unless asked for.

Importing TensorFlow prints, from C++ and before any Python logging is set
up, a few informational lines: oneDNN is on, no CUDA driver was found, which
CPU instructions the binary could use. `vitgan_tf` imports TensorFlow through
`import_tensorflow_quietly()` (from `vitgan_tf/__init__.py`, before Keras),
which captures the process's stderr while TensorFlow loads and finds its
devices, then writes back every captured line except those notices. Errors
and anything unrecognised still reach stderr.

To see the notices, set `VITGAN_TF_NATIVE_LOGS=1` (docs/training.md, "Commands"). Where
TensorFlow was imported before `vitgan_tf`, nothing is changed.
"""

import os
import re
import sys
import tempfile

ENV_VAR = "VITGAN_TF_NATIVE_LOGS"

# The start-up notices of TensorFlow 2.21's native libraries on a machine without CUDA:
# matched on the whole line, so any other line (errors included) is written back.
STARTUP_NOTICES = tuple(re.compile(pattern) for pattern in (
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    r"I\d{4} [\d:.]+ +\d+ port\.cc:\d+\] oneDNN custom operations are on\..*",
    r"I\d{4} [\d:.]+ +\d+ cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine.*",
    r"I\d{4} [\d:.]+ +\d+ cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized.*",
    r"To enable the following instructions: .*, in other operations, rebuild TensorFlow.*",
    r"E\d{4} [\d:.]+ +\d+ cuda_platform\.cc:\d+\] failed call to cuInit: .*",
))


def is_startup_notice(line):
    """True for one of TensorFlow's known start-up notices (a line without its newline)."""
    return any(pattern.fullmatch(line) for pattern in STARTUP_NOTICES)


def import_tensorflow_quietly():
    """Imports TensorFlow (and lists its devices) with its start-up notices dropped.

    Does nothing when TensorFlow is already imported, when Keras is set to
    another backend by `KERAS_BACKEND`, when TensorFlow is not installed, or
    when `VITGAN_TF_NATIVE_LOGS=1`. An import error propagates unchanged,
    after the captured lines are written back.
    """
    if ("tensorflow" in sys.modules or os.environ.get(ENV_VAR) == "1"
            or os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow"):
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced by an object without a file
        return
    import importlib.util  # noqa: PLC0415
    if importlib.util.find_spec("tensorflow") is None:
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), fd)
        try:
            import tensorflow as tf  # noqa: PLC0415
            tf.config.list_physical_devices()  # the CUDA probe's lines come here
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", "replace").splitlines()
            kept = [line for line in lines if not is_startup_notice(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()
