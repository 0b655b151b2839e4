"""Runs every layer case and the tiny models on the current Keras backend.

    KERAS_BACKEND=jax python -m tests.backend_worker CASES_DIR

For each `CASES_DIR/{name}.npz` (written by tests/test_backends.py on
TensorFlow: `w{i}` weights, `x{i}` inputs, `y{i}` TensorFlow's outputs), it
builds the same model on this backend, sets the weights, and writes
`{name}.{backend}.npz` with its outputs and the outputs of the model after a
`.keras` save and reload on this backend. Prints the backend at the end.
"""

import os
import sys

import keras
import numpy as np

import vitgan_tf  # noqa: F401  (registers the layers)
from tests.layer_cases import all_cases, build_case_model
from vitgan_tf.models import Discriminator, Generator, StyleGAN2Discriminator


def model_cases():
    """[(name, builder)] of the tiny generator and discriminators (one per call)."""
    return [("Generator_tiny", lambda: Generator.from_architecture("tiny")),
            ("Discriminator_tiny", lambda: Discriminator.from_architecture("tiny")),
            ("StyleGAN2Discriminator_tiny",
             lambda: StyleGAN2Discriminator.from_architecture("tiny", width_multiplier=1 / 32))]


def as_list(outputs):
    return [np.asarray(keras.ops.convert_to_numpy(o)) for o in
            (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def run(folder):
    backend = keras.backend.backend()
    builders = [(name, lambda c=cls, k=kwargs: build_case_model(c, k)[0])
                for name, cls, kwargs in all_cases()] + model_cases()
    runs = []
    for name, build in builders:
        stored = np.load(os.path.join(folder, f"{name}.npz"))
        model = build()
        model.set_weights([stored[f"w{i}"] for i in range(len(model.weights))])
        inputs = [stored[f"x{i}"] for i in range(len([k for k in stored if k.startswith("x")]))]
        outputs = as_list(model(inputs if len(inputs) > 1 else inputs[0], training=False))
        runs.append((name, model, inputs, outputs))
    # Building and running needed no TensorFlow (Keras' own `.keras` saving below imports it
    # for file access when it is installed).
    tensorflow = "tensorflow" in sys.modules and backend != "tensorflow"
    for name, model, inputs, outputs in runs:
        path = os.path.join(folder, f"{name}.{backend}.keras")
        model.save(path)
        restored = keras.saving.load_model(path, safe_mode=True)
        reloaded = as_list(restored(inputs if len(inputs) > 1 else inputs[0], training=False))
        np.savez(os.path.join(folder, f"{name}.{backend}.npz"),
                 **{f"y{i}": y for i, y in enumerate(outputs)},
                 **{f"r{i}": y for i, y in enumerate(reloaded)})
    print(f"backend={backend} cases={len(builders)} tensorflow_imported={tensorflow}")


if __name__ == "__main__":
    run(sys.argv[1])
