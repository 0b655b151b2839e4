"""Training: losses, DiffAugment, the `ViTGAN` fit model, callbacks, run driver.

`ViTGAN`, `augment` and `losses` run on TensorFlow and JAX; the run driver
(`run`, `train`) and `callbacks` use TensorFlow (tf.data, tf.distribute).
"""

import keras

from vitgan_tf.training import augment
from vitgan_tf.training.gan import ViTGAN
from vitgan_tf.training.losses import bcr_penalty
from vitgan_tf.training.losses import nonsaturating_discriminator_loss
from vitgan_tf.training.losses import nonsaturating_generator_loss
from vitgan_tf.training.losses import r1_penalty

if keras.backend.backend() == "tensorflow":
    from vitgan_tf.training.run import train
