"""Which matmul path XLA:CPU compiles to, under the XLA_FLAGS that select one.

    python bench/xla_dot_paths.py

Whole-step XLA fuses element-wise work, but on this CPU its matmuls run
slower than TensorFlow's oneDNN ones (docs/performance.md). XLA:CPU has
flags for oneDNN and XNNPACK dots. For each flag set this compiles
`gelu(x @ w)` (the MLP's first layer) in a fresh process, dumps the
optimized HLO and prints its custom-call targets and fusion kinds. A flag
that took effect shows up as a `__onednn$...` custom call or an XNN fusion.
"""

import os
import re
import subprocess
import sys
import tempfile

FLAG_SETS = [
    "",
    "--xla_cpu_use_onednn=true",
    "--xla_cpu_use_onednn=true --xla_cpu_experimental_onednn_custom_call=true",
    "--xla_cpu_experimental_xnn_fusion_type=dot,eltwise",
    "--xla_cpu_experimental_xnn_graph_fusion_mode=XNN_GRAPH_FUSION_MODE_GREEDY",
]

CHILD = """
import tensorflow as tf
x, w = tf.random.normal([256, 384]), tf.random.normal([384, 1536])
f = tf.function(lambda x, w: tf.nn.gelu(x @ w, approximate=False), jit_compile=True)
f(x, w).numpy()
"""


def compiled_paths(flags):
    """Custom-call targets and fusion kinds in the optimized HLO under `flags`."""
    with tempfile.TemporaryDirectory() as dump:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
                   XLA_FLAGS=f"{flags} --xla_dump_to={dump} --xla_dump_hlo_as_text".strip())
        subprocess.run([sys.executable, "-c", CHILD], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        texts = [open(os.path.join(dump, name)).read() for name in sorted(os.listdir(dump))
                 if name.endswith("after_optimizations.txt")]
    if not texts:
        raise RuntimeError(f"XLA wrote no optimized HLO under XLA_FLAGS={flags!r}")
    hlo = "\n".join(texts)
    targets = sorted(set(re.findall(r'custom_call_target="([^"]+)"', hlo)))
    kinds = sorted(set(re.findall(r"kind=(k\w+)", hlo)))
    return targets, kinds, len(re.findall(r"\bdot\(", hlo))


def main():
    import tensorflow as tf  # noqa: PLC0415 (the version only; children do the work)

    print(f"TensorFlow {tf.__version__}: gelu(x @ w), x [256, 384], w [384, 1536]")
    print("| XLA_FLAGS | custom calls | fusion kinds | plain dots |")
    print("| --- | --- | --- | ---: |")
    for flags in FLAG_SETS:
        targets, kinds, dots = compiled_paths(flags)
        print(f"| `{flags or '(none)'}` | {', '.join(targets) or '-'} | {', '.join(kinds)} | {dots} |")


if __name__ == "__main__":
    main()
