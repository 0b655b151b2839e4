"""vitgan_tf: ViTGAN (Lee et al., arXiv 2107.04589) in Keras 3 / TensorFlow.

Importing the package registers every serializable class under the Keras
package name "vitgan_tf", so saved `.keras` files load with
`keras.saving.load_model(path, safe_mode=True)`.

`layers` and `models` are written with `keras.ops` and run on any Keras
backend (TensorFlow, JAX; tested). `ViTGAN` (the fit model) trains on
TensorFlow and JAX. The run driver, data, metrics and export use TensorFlow:
they are imported here only when Keras runs on TensorFlow, so that the
package imports where TensorFlow is absent.

TensorFlow's native start-up notices (oneDNN, CUDA drivers, CPU features)
are dropped when this package is what imports TensorFlow: set
`VITGAN_TF_NATIVE_LOGS=1` to see them (`vitgan_tf.native_log`).
"""

from vitgan_tf.native_log import import_tensorflow_quietly

import_tensorflow_quietly()

import keras  # noqa: E402  (after TensorFlow's quiet import)

from vitgan_tf import layers
from vitgan_tf import models

if keras.backend.backend() in ("tensorflow", "jax"):
    from vitgan_tf import training
    from vitgan_tf.training import ViTGAN
if keras.backend.backend() == "tensorflow":
    from vitgan_tf import data
    from vitgan_tf import lipschitz
    from vitgan_tf import metrics

__version__ = "0.1.0"
