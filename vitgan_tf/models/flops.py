"""Analytic FLOP counts of the generator and discriminator.

One function family, shared by the model summary (`python -m vitgan_tf.models`)
and the benchmarks: 2 * M * N * K per matmul, element-wise work ignored.
A training step's backward costs 2x forward for layers whose weights and
inputs both need gradients, 1x for an input-only backward (the discriminator
during the generator step).
"""


def _transformer_flops(tokens, hidden, mlp, qkv_width):
    """Per-image matmul FLOPs of one transformer block.

    `qkv_width` is the total size of the input projections (3 * hidden for
    dot-product attention, 2 * hidden for L2 attention with tied W_q = W_k).
    """
    projections = 2 * tokens * hidden * qkv_width  # Q/K/V
    attention = 2 * 2 * tokens * tokens * hidden  # logits + weighted values
    output = 2 * tokens * hidden * hidden
    mlp_flops = 2 * 2 * tokens * hidden * mlp
    return projections + attention + output + mlp_flops


def generator_flops(config):
    """Forward matmul FLOPs per image of a `Generator` config; a dict by part."""
    grid = config["image_size"] // config["patch_size"]
    tokens = grid * grid
    hidden, z_dim = config["hidden_dim"], config["z_dim"]
    pixels = config["patch_size"] ** 2
    fourier, decoder = config["fourier_dim"], config["decoder_dim"]
    mapping = 2 * z_dim * hidden + 2 * hidden * hidden * (config["mapping_layers"] - 1)
    sln = 2 * 2 * hidden * hidden  # gamma and beta maps of w
    blocks = config["depth"] * (
        _transformer_flops(tokens, hidden, config["mlp_dim"], 3 * hidden) + 2 * sln
    )
    decoder_flops = (
        2 * pixels * 2 * fourier  # Fourier features of pixel coordinates
        + 2 * tokens * hidden * (fourier + decoder)  # styles s1, s2
        + 2 * tokens * pixels * fourier * decoder  # modulated layer 1
        + 2 * tokens * fourier * decoder  # demodulation
        + 2 * tokens * pixels * decoder * config["channels"]  # modulated layer 2
    )
    parts = {
        "mapping": mapping,
        "positions": 2 * tokens * 2 * hidden,
        # latent_tokens r: w -> r features per token, then r -> hidden per token.
        "latent_tokens": 2 * tokens * config.get("latent_tokens", 0) * 2 * hidden,
        "blocks": blocks + sln,
        "decoder": decoder_flops,
    }
    parts["total"] = sum(parts.values())
    return parts


def discriminator_flops(config):
    """Forward matmul FLOPs per image of a `Discriminator` config; a dict by part."""
    patch = config["patch_size"]
    tokens = (config["image_size"] // patch) ** 2
    hidden = config["hidden_dim"]
    qkv = (2 if config.get("attention", "l2") == "l2" else 3) * hidden
    parts = {
        "patch_embedding": 2 * tokens * (2 * patch) ** 2 * config["channels"] * hidden,
        "blocks": config["depth"] * _transformer_flops(tokens + 1, hidden, config["mlp_dim"], qkv),
        "head": 2 * (hidden + (1 if config.get("mbstd_group_size", 0) else 0)),
    }
    parts["total"] = sum(parts.values())
    return parts


def training_iteration_flops(generator_config, discriminator_config, batch_size, bcr=True):
    """Matmul FLOPs of one `ViTGAN.train_step` on `batch_size` real images.

    D step: G forward, D forward + weight-and-input backward (3x) on the real
    and fake views (and their bCR views when `bcr`). G step: G forward +
    backward (3x), D forward + input-only backward (2x).
    """
    g = generator_flops(generator_config)["total"]
    d = discriminator_flops(discriminator_config)["total"]
    d_views = 4 if bcr else 2
    return batch_size * ((g + 3 * d_views * d) + (3 * g + 2 * d))
