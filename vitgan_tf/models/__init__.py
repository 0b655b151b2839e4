"""ViTGAN generator and discriminator, built from presets."""

from vitgan_tf.models.discriminator import Discriminator
from vitgan_tf.models.generator import Generator
from vitgan_tf.models.stylegan2_discriminator import StyleGAN2Discriminator
from vitgan_tf.models.presets import ARCHITECTURES, PRESETS
from vitgan_tf.models.loading import load_generator
from vitgan_tf.models import preset_utils

# `model.discriminator.architecture` of a run config -> the discriminator class.
DISCRIMINATORS = {"vit": Discriminator, "stylegan2": StyleGAN2Discriminator}
