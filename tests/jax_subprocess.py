"""The XLA flags of the test run, and the environment of its JAX subprocesses.

XLA:CPU compiles each jitted function through LLVM; the tests' programs are tiny and run a
few steps, so most of their time is compilation. `--xla_backend_optimization_level=0` skips
LLVM's optimisation passes: the programs compute the same functions, compiled faster and run
slower (docs/testing.md has the measurements). `tests/conftest.py` puts it into the test
process's `XLA_FLAGS` before TensorFlow starts, so TensorFlow's XLA steps (`jit_compile=True`)
and every subprocess get it too, the `bench/` scripts that tests start included. It is for
the test run only: the library and the benchmarks run outside it keep XLA's default.
"""

import os

TEST_XLA_FLAGS = "--xla_backend_optimization_level=0"


def with_test_xla_flags(*flags):
    """The space-joined `flags` (None or empty ones skipped) plus `TEST_XLA_FLAGS`, once."""
    kept = [f for f in flags if f]
    if not any(TEST_XLA_FLAGS in f for f in kept):
        kept.append(TEST_XLA_FLAGS)
    return " ".join(kept)


def jax_env(**extra):
    """`os.environ` with the JAX backend on CPU, quiet TensorFlow logs and `TEST_XLA_FLAGS`.

    `extra` adds variables; an `XLA_FLAGS` in it, or in `os.environ`, is kept and
    `TEST_XLA_FLAGS` appended to it unless it is already there.
    """
    flags = with_test_xla_flags(os.environ.get("XLA_FLAGS"), extra.pop("XLA_FLAGS", None))
    return dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3",
                **extra, XLA_FLAGS=flags)
