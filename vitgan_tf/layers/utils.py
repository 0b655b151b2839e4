"""Small argument helpers shared by the layers."""

import keras


def check_positive_int(name, value):
    """Returns `int(value)`; raises `ValueError` quoting it unless a positive int."""
    if isinstance(value, bool) or int(value) != value or value <= 0:
        raise ValueError(f"Expected `{name}` > 0. Received: {name}={value}")
    return int(value)


def check_choice(name, value, choices):
    """Returns `value`; raises `ValueError` quoting it and `choices` unless one of them."""
    if value not in choices:
        raise ValueError(f"Expected `{name}` in {tuple(choices)}. Received: {name}={value!r}")
    return value


def clone_initializer(initializer):
    """A fresh instance of `initializer`, so sub-layers do not share seeds."""
    initializer = keras.initializers.get(initializer)
    return initializer.__class__.from_config(initializer.get_config())


@keras.saving.register_keras_serializable(package="vitgan_tf")
class WindowGlorotUniform(keras.initializers.Initializer):
    """Glorot uniform for a kernel that linearly projects flattened windows.

    `keras.initializers.GlorotUniform` counts a convolution's window area in
    both fans (fan_out = kh * kw * filters). A patch embedding is a linear
    map of the flattened window (fan_in = kh * kw * channels) to the token
    (fan_out = filters), so its Glorot limit is `sqrt(6 / (fan_in +
    fan_out))`, as for a `Dense` layer on the flattened window.

    Args:
        seed: int or None, default None.
    """

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype=None):
        fan_in = 1
        for size in shape[:-1]:
            fan_in *= int(size)
        limit = (6.0 / (fan_in + int(shape[-1]))) ** 0.5
        return keras.initializers.RandomUniform(-limit, limit, seed=self.seed)(shape, dtype=dtype)

    def get_config(self):
        return {"seed": self.seed}
