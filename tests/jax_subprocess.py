"""The environment of the tests' JAX subprocesses (the JAX backend needs a fresh process).

XLA:CPU compiles each jitted function through LLVM; the tests' programs are tiny and run a
few steps, so most of their time is compilation. `--xla_backend_optimization_level=0` skips
LLVM's optimisation passes: the programs compute the same functions, compiled faster and run
slower (docs/testing.md has the measurement). It is for the tests only; the library and the
benchmarks keep XLA's default.
"""

import os

TEST_XLA_FLAGS = "--xla_backend_optimization_level=0"


def jax_env(**extra):
    """`os.environ` with the JAX backend on CPU, quiet TensorFlow logs and `TEST_XLA_FLAGS`.

    `extra` adds variables; an `XLA_FLAGS` in it, or in `os.environ`, is kept and
    `TEST_XLA_FLAGS` appended to it.
    """
    flags = " ".join(f for f in (os.environ.get("XLA_FLAGS"), extra.pop("XLA_FLAGS", None),
                                 TEST_XLA_FLAGS) if f)
    return dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3",
                **extra, XLA_FLAGS=flags)
