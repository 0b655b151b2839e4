"""The ViTGAN generator."""

import keras

from vitgan_tf import layers
from vitgan_tf.layers.utils import check_non_negative_int, check_positive_int
from vitgan_tf.models import presets


@keras.saving.register_keras_serializable(package="vitgan_tf")
class Generator(presets.PresetModel):
    """ViT generator: z -> w -> transformer on patch positions -> implicit pixels.

    z goes through the mapping network to a style w. The input sequence is
    the Fourier embedding of the L = (image_size / patch_size)^2 patch
    positions; `depth` blocks with self-modulated LayerNorms (SLN) transform
    it, an output SLN gives the patch tokens y_i, and the implicit decoder
    turns each y_i into a patch of pixels. Output: float32 images in about
    [-1, 1] (no squashing, as StyleGAN2), `[batch, H, W, channels]`.

    Args:
        image_size: int. Output height = width.
        channels: int. Output channels.
        patch_size: int. Pixels per patch side.
        depth: int. Number of transformer blocks.
        hidden_dim: int. Token size (also the style size).
        mlp_dim: int. MLP hidden size.
        num_heads: int. Attention heads.
        z_dim: int. Latent size.
        mapping_layers: int, default 8.
        mapping_lr_multiplier: float, default 0.01.
        decoder_dim: int, default 64. Implicit-MLP width.
        fourier_dim: int, default 64. Fourier features per pixel.
        decoder_activation: `"leaky_relu"` (default) or `"sin"`.
        w_avg_beta: float or None, default 0.995. Keep the running mean of w
            (`w_avg`, a non-trainable variable updated whenever G runs in
            training mode, see `layers.StyleTruncation`) for the truncation
            trick (`generate(z, truncation_psi)`); None: no `w_avg` (the
            models saved before it existed load this way).
        latent_tokens: int >= 0, default 0 (off: the paper's G, whose input
            sequence is the same for every sample). With r > 0, w is also
            projected to r features per token (`EqualizedDense(L * r)`), and
            a linear map of those (`Dense(hidden_dim)`, no bias) is added to
            the position embedding, so each token's input depends on w, as
            a DCGAN projects z to its first feature map. Not in the paper.

    Example:

    >>> gen = Generator.from_architecture("tiny")
    >>> images = gen(keras.random.normal((2, gen.z_dim)))  # [2, 16, 16, 3]
    >>> closer_to_the_mean = gen.generate(keras.random.normal((2, gen.z_dim)), truncation_psi=0.7)

    Reference:
        Lee et al., "ViTGAN: Training GANs with Vision Transformers",
        arXiv 2107.04589, section 4.2.
    """

    CONFIG_KEYS = presets.SHARED_KEYS + (
        "z_dim", "mapping_layers", "mapping_lr_multiplier", "decoder_dim", "fourier_dim",
        "decoder_activation", "w_avg_beta", "latent_tokens",
    )

    def __init__(
        self,
        image_size,
        channels,
        patch_size,
        depth,
        hidden_dim,
        mlp_dim,
        num_heads,
        z_dim,
        mapping_layers=8,
        mapping_lr_multiplier=0.01,
        decoder_dim=64,
        fourier_dim=64,
        decoder_activation="leaky_relu",
        w_avg_beta=0.995,
        latent_tokens=0,
        **kwargs,
    ):
        for arg, value in (("image_size", image_size), ("channels", channels),
                           ("patch_size", patch_size), ("depth", depth), ("z_dim", z_dim)):
            check_positive_int(arg, value)
        presets.validate_architecture(image_size, patch_size, hidden_dim, num_heads)
        latent_tokens = check_non_negative_int("latent_tokens", latent_tokens)
        grid_size = image_size // patch_size

        # === Functional model ===
        z = keras.Input((z_dim,), name="z")
        style = layers.MappingNetwork(
            hidden_dim, num_layers=mapping_layers, lr_multiplier=mapping_lr_multiplier,
            name="mapping",
        )(z)  # [B, hidden]
        if w_avg_beta is not None:
            style = layers.StyleTruncation(w_avg_beta, name="truncation")(style)  # w, unchanged
        x = layers.PatchPositionEmbedding(grid_size, hidden_dim, name="position_embedding")(
            style
        )  # [B, L, hidden]
        if latent_tokens:
            tokens = grid_size**2
            per_token = layers.EqualizedDense(tokens * latent_tokens, name="latent_projection")(style)
            per_token = keras.layers.Reshape((tokens, latent_tokens), name="latent_reshape")(per_token)
            per_token = keras.layers.Dense(hidden_dim, use_bias=False, name="latent_tokens")(per_token)
            x = keras.layers.Add(name="input_tokens")([x, per_token])  # [B, L, hidden]
        for i in range(depth):
            x = layers.GeneratorBlock(num_heads, mlp_dim, name=f"block_{i}")(x, style)
        x = layers.SelfModulatedLayerNorm(name="output_norm")(x, style)
        images = layers.ImplicitPatchDecoder(
            patch_size, channels, hidden_dim=decoder_dim, fourier_dim=fourier_dim,
            activation=decoder_activation, name="decoder",
        )(x)  # [B, H, W, C]
        images = keras.layers.Activation("linear", dtype="float32", name="images")(images)
        super().__init__(inputs=z, outputs=images, **kwargs)
        # The synthesis network w -> images, sharing this model's layers; set without Keras'
        # tracking so that its weights are not saved twice.
        object.__setattr__(self, "_synthesis", keras.Model(style, images, name="synthesis"))

        # === Config ===
        self.image_size = image_size
        self.channels = channels
        self.patch_size = patch_size
        self.depth = depth
        self.hidden_dim = hidden_dim
        self.mlp_dim = mlp_dim
        self.num_heads = num_heads
        self.z_dim = z_dim
        self.mapping_layers = mapping_layers
        self.mapping_lr_multiplier = mapping_lr_multiplier
        self.decoder_dim = decoder_dim
        self.fourier_dim = fourier_dim
        self.decoder_activation = decoder_activation
        self.w_avg_beta = None if w_avg_beta is None else float(w_avg_beta)
        self.latent_tokens = latent_tokens

    @classmethod
    def from_config(cls, config):
        # A config saved before `w_avg` existed has no "w_avg_beta": it builds without it.
        return cls(**{"w_avg_beta": None, **config})

    @property
    def w_avg(self):
        """The running mean of w (`[hidden_dim]` float32 variable), or None without it."""
        return self.get_layer("truncation").w_avg if self.w_avg_beta is not None else None

    def mapping(self, z):
        """The styles w of latents z (`[B, z_dim]` -> `[B, hidden_dim]`), inference mode."""
        return self.get_layer("mapping")(z)

    def synthesis(self, w):
        """Images of styles w (`[B, hidden_dim]` -> `[B, H, W, C]`), inference mode."""
        return self._synthesis(w, training=False)

    def generate(self, z, truncation_psi=1.0):
        """Images of latents z with the truncation trick, in inference mode.

        w = mapping(z) moves towards `w_avg`: `w_avg + psi * (w - w_avg)`.
        psi = 1 (the default) is `self(z)` exactly; psi = 0 gives the image of
        `w_avg` for every z.

        Args:
            z: `[B, z_dim]` latents.
            truncation_psi: float or scalar tensor, default 1.0.
        """
        if isinstance(truncation_psi, (int, float)) and float(truncation_psi) == 1.0:
            return self(z, training=False)
        if self.w_avg_beta is None:
            raise ValueError(f"{self.name} keeps no w_avg (w_avg_beta=None; saved before "
                             "it existed): truncation_psi must be 1")
        w = self.get_layer("truncation").truncate(self.mapping(z), truncation_psi)
        return self.synthesis(w)
