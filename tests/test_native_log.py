"""TensorFlow's native start-up notices: dropped by default, shown with VITGAN_TF_NATIVE_LOGS=1."""

import os
import subprocess
import sys

import pytest

from vitgan_tf import native_log

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Lines TensorFlow 2.21 printed on this project's machines (AMD EPYC and Intel Xeon, no CUDA).
NOTICES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796197710.219859    3568 port.cc:153] oneDNN custom operations are on. You may "
    "see slightly different numerical results due to floating-point round-off errors from "
    "different computation orders. To turn them off, set the environment variable "
    "`TF_ENABLE_ONEDNN_OPTS=0`.",
    "I0000 00:00:1796197710.220298    3568 cudart_stub.cc:31] Could not find cuda drivers on your "
    "machine, GPU will not be used.",
    "I0000 00:00:1796197710.373536    3568 cpu_feature_guard.cc:227] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 FMA, in other "
    "operations, rebuild TensorFlow with the appropriate compiler flags.",
    "E0000 00:00:1796197856.588343    3925 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
    "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
]


@pytest.mark.parametrize("line", NOTICES)
def test_known_notices_are_recognised(line):
    assert native_log.is_startup_notice(line)


@pytest.mark.parametrize("line", [
    "E0000 00:00:1796197856.588343    3925 remapper.cc:1] failed to fuse LeakyReluGrad",
    "I0000 00:00:1796197710.220298    3568 cudart_stub.cc:31] Found CUDA driver 13.0",
    "Traceback (most recent call last):",
    "oneDNN custom operations are on.",  # not TensorFlow's own log line
])
def test_other_lines_are_kept(line):
    assert not native_log.is_startup_notice(line)


def _import_stderr(**env):
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", native_log.ENV_VAR, "KERAS_BACKEND")} | env
    result = subprocess.run([sys.executable, "-c", "import vitgan_tf; print('imported')"],
                            capture_output=True, text=True, cwd=REPO, env=env, timeout=300, check=True)
    assert result.stdout.strip() == "imported"
    return result.stderr.splitlines()


def test_import_drops_the_notices_and_the_variable_shows_them():
    quiet = _import_stderr()
    assert not [line for line in quiet if native_log.is_startup_notice(line)], quiet
    loud = _import_stderr(**{native_log.ENV_VAR: "1"})
    # Which notices TensorFlow prints depends on the CPU (oneDNN's is on by default only where
    # it has AVX512-VNNI, AVX512-BF16 or AMX; an AVX2-only Zen 1 prints none), but absl's
    # "before InitializeLog" warning precedes the first of them on every machine.
    assert any(native_log.is_startup_notice(line) for line in loud), loud
