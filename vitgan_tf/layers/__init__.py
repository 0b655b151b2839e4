"""Keras layers for the ideas of ViTGAN (Lee et al., arXiv 2107.04589)."""

from vitgan_tf.layers.activations import gelu
from vitgan_tf.layers.attention import DotProductMultiHeadAttention
from vitgan_tf.layers.attention import L2MultiHeadAttention
from vitgan_tf.layers.blocks import DiscriminatorBlock
from vitgan_tf.layers.blocks import GeneratorBlock
from vitgan_tf.layers.implicit import FourierFeatures
from vitgan_tf.layers.implicit import ImplicitPatchDecoder
from vitgan_tf.layers.implicit import PatchPositionEmbedding
from vitgan_tf.layers.implicit import coordinate_grid
from vitgan_tf.layers.implicit import tokens_to_image
from vitgan_tf.layers.minibatch import TokenMinibatchStdDev
from vitgan_tf.layers.modulation import EqualizedDense
from vitgan_tf.layers.modulation import MappingNetwork
from vitgan_tf.layers.modulation import SelfModulatedLayerNorm
from vitgan_tf.layers.modulation import StyleTruncation
from vitgan_tf.layers.normalization import ExactLayerNormalization
from vitgan_tf.layers.patches import ClassTokenPositionEmbedding
from vitgan_tf.layers.patches import OverlappingPatchEmbedding
from vitgan_tf.layers.spectral_norm import ImprovedSpectralNormalization
from vitgan_tf.layers.stylegan2 import Blur
from vitgan_tf.layers.stylegan2 import EqualizedConv2D
from vitgan_tf.layers.stylegan2 import MinibatchStdDev
from vitgan_tf.layers.stylegan2 import StyleGAN2ResidualBlock
from vitgan_tf.layers.stylegan2 import scaled_leaky_relu
