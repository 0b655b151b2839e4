"""vitgan_tf: ViTGAN (Lee et al., arXiv 2107.04589) in Keras 3 / TensorFlow.

Importing the package registers every serializable class under the Keras
package name "vitgan_tf", so saved `.keras` files load with
`keras.saving.load_model(path, safe_mode=True)`.
"""

from vitgan_tf import data
from vitgan_tf import layers
from vitgan_tf import lipschitz
from vitgan_tf import metrics
from vitgan_tf import models
from vitgan_tf import training
from vitgan_tf.training import ViTGAN

__version__ = "0.1.0"
