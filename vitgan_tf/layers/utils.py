"""Small argument helpers shared by the layers."""

import numbers

import keras


def check_positive_int(name, value):
    """Returns `int(value)`; raises `ValueError` quoting it unless a positive int."""
    if isinstance(value, bool) or int(value) != value or value <= 0:
        raise ValueError(f"Expected `{name}` > 0. Received: {name}={value}")
    return int(value)


def check_non_negative_int(name, value):
    """Returns `int(value)`; raises `ValueError` quoting it unless an int >= 0 (0: an option off)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or int(value) != value or value < 0:
        raise ValueError(f"Expected `{name}` >= 0 (0: off). Received: {name}={value!r}")
    return int(value)


def minibatch_group(inputs, group_size, layer_name):
    """The minibatch-stddev group size of `inputs` and the dtype to compute in.

    Returns `(G, dtype)`: `G = min(group_size, batch)` (a tensor when the
    batch is unknown), and float32 for half-precision inputs (the inputs'
    dtype otherwise). Raises `ValueError` naming `layer_name` when a known
    batch is not a multiple of `G`.
    """
    batch = inputs.shape[0]
    if batch is None:
        group = keras.ops.minimum(keras.ops.shape(inputs)[0], group_size)
    else:
        group = min(batch, group_size)
        if batch % group:
            raise ValueError(f"{layer_name}: batch size {batch} is not a multiple of "
                             f"the group size {group}")
    compute = "float32" if inputs.dtype in ("float16", "bfloat16") else inputs.dtype
    return group, compute


def check_choice(name, value, choices):
    """Returns `value`; raises `ValueError` quoting it and `choices` unless one of them."""
    if value not in choices:
        raise ValueError(f"Expected `{name}` in {tuple(choices)}. Received: {name}={value!r}")
    return value


def clone_initializer(initializer):
    """A fresh instance of `initializer`, so sub-layers do not share seeds."""
    initializer = keras.initializers.get(initializer)
    return initializer.__class__.from_config(initializer.get_config())
