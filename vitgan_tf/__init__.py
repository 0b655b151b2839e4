"""vitgan_tf: ViTGAN (Lee et al., arXiv 2107.04589) in Keras 3 / TensorFlow."""

from vitgan_tf import layers
from vitgan_tf import models

__version__ = "0.1.0"
