"""This machine's CPU, as benchmarks and time-budgeted runs record it."""

import platform


def cpu_fields():
    """The first processor's `/proc/cpuinfo` fields as a dict ({} where unreadable)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block is enough
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_model(fields=None):
    """The CPU's model name, e.g. `"AMD EPYC"`."""
    fields = cpu_fields() if fields is None else fields
    return fields.get("model name") or platform.processor() or platform.machine() or "unknown"


def has_avx512_bf16(fields=None):
    """True where the CPU has AVX512-BF16 (fast bfloat16 matmuls)."""
    fields = cpu_fields() if fields is None else fields
    return "avx512_bf16" in fields.get("flags", "").split()


def cpu_signature():
    """This CPU as `"AMD EPYC (family 26, model 2, avx512_bf16 yes)"`.

    Model names repeat across generations ("AMD EPYC" for Zen 3 and Zen 5):
    family and model tell them apart. Figures measured in time are
    comparable only between CPUs with one signature.
    """
    fields = cpu_fields()
    bf16 = "yes" if has_avx512_bf16(fields) else "no"
    return (f"{cpu_model(fields)} (family {fields.get('cpu family', '?')}, "
            f"model {fields.get('model', '?')}, avx512_bf16 {bf16})")
