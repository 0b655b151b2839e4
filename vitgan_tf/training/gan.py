"""`ViTGAN`: generator, discriminator and EMA generator trained by `model.fit`."""

import warnings

import keras
from keras import ops

from vitgan_tf.models.discriminator import Discriminator
from vitgan_tf.models.generator import Generator
from vitgan_tf.models.stylegan2_discriminator import StyleGAN2Discriminator
from vitgan_tf.training import augment, losses

# One train step per backend, as Keras picks its Trainer (keras/src/models/model.py).
if keras.backend.backend() == "jax":
    from vitgan_tf.training.jax_step import JAXStep as BackendStep
elif keras.backend.backend() == "tensorflow":
    from vitgan_tf.training.tf_step import TensorFlowStep as BackendStep
else:

    class BackendStep:
        """No train step: `ViTGAN.compile` refuses on this backend."""

TRACKER_NAMES = ("d_loss", "g_loss", "d_real", "d_fake", "bcr")


def default_optimizer(learning_rate=2e-3, beta_1=0.0, beta_2=0.99, name=None):
    """Adam(lr, beta_1=0, beta_2=0.99): ViTGAN's (and StyleGAN2's) optimizer."""
    return keras.optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=1e-8, name=name)


@keras.saving.register_keras_serializable(package="vitgan_tf")
class ViTGAN(BackendStep, keras.Model):
    """ViTGAN training wrapper: D step, G step and EMA of G in one `train_step`.

    One `fit` iteration on a batch of real images `x` (float32 NHWC in
    [-1, 1]):

    1. D step. `A` is a DiffAugment draw, `T` bCR's mild transform (by
       default a random translation of up to 1/8 of the size, as in the bCR
       paper) applied on top of it.
       `d_loss = softplus(-D(A(x))) + softplus(D(A(G(z))))`
       `+ lambda_real * (D(A(x)) - D(T(A(x))))^2 + lambda_fake * (same on G(z))`
       `+ r1_gamma / 2 * ||grad_x D(A1(x))||^2` (batch means). D runs once on
       the concatenated batch, so ISN's power iteration advances once.
    2. G step with a fresh z: `g_loss = softplus(-D(A(G(z))))`; D runs with
       `training=False` (no ISN update).
    3. EMA: `ema = g + decay_t * (ema - g)`, `decay_t = min(ema_decay,
       (1 + t) / (10 + t))` with `ema_rampup` (t = G steps), else `ema_decay`.

    Trackers (returned by `train_step`, keys = names): `d_loss`, `g_loss`,
    `d_real`, `d_fake` (mean logits on augmented reals / fakes), `bcr`.
    `train_steps` counts the train steps run (saved with the weights); the
    run's callbacks all read their step from it.

    All randomness (latents, augmentation) comes from one
    `keras.random.SeedGenerator(seed)`. Under a `tf.distribute` strategy
    every replica draws the randomness of the GLOBAL batch and uses its
    slice, so N replicas compute what one device computes on the global
    batch; gradients are averaged (loss / N, summed by the optimizer).

    Backends: on TensorFlow the step is written with `tf.GradientTape` and
    supports `tf.distribute` strategies; on JAX it is stateless
    (`train_step(state, data)`, Keras' JAX trainer) with the same maths and
    randomness, and runs under `keras.distribution.DataParallel` (every
    device computes the global batch's step on its shard, as XLA partitions
    it). `apply_step` runs one step with given randomness on either backend.

    XLA: with `compile(jit_compile=True)` on one device the whole step is
    compiled by Keras. Under a strategy (Keras falls back to no XLA), the
    per-replica forward/backward of each step (`_discriminator_gradients`,
    `_generator_gradients`) is compiled instead; the gradient all-reduce,
    optimizer updates, ISN vector assignment and EMA run outside XLA.
    ISN updates are captured with `keras.StatelessScope` and assigned after.

    Args:
        generator: `vitgan_tf.models.Generator`.
        discriminator: `vitgan_tf.models.Discriminator` (ViT) or
            `vitgan_tf.models.StyleGAN2Discriminator` (the authors' hybrid). The
            latter's minibatch stddev mixes the images of one D call: under
            a strategy each replica's groups come from its own slice, so
            there (only) the result depends on the number of replicas.
        ema_generator: `Generator` or None (default: a copy of `generator`).
        bcr_real: float, default 10. lambda_real of bCR (0 disables).
        bcr_fake: float, default 10. lambda_fake of bCR (0 disables).
        r1_gamma: float, default 0 (off; reported to hurt with a ViT D).
        augment_policy: str, default `"color,translation,cutout,scaling"`;
            "" disables DiffAugment.
        augment_p: float, default 0.8, or a dict {op: probability} naming
            every op of `augment_policy`.
        bcr_policy: str, default `"translation"`. bCR's transform `T` (always
            applied). Two independent heavy DiffAugment views (cutout, colour)
            make bCR flatten D's output to a constant; a mild T does not.
        ema_decay: float or None, default 0.999. None disables the EMA update
            (the EMA generator then stays at its initial weights).
        ema_rampup: bool, default True.
        seed: int or None. Seed of the SeedGenerator.

    Example:

    >>> gan = ViTGAN(Generator.from_architecture("tiny"), Discriminator.from_architecture("tiny"))
    >>> gan.compile()
    >>> gan.fit(dataset, steps_per_epoch=10, epochs=1)

    Reference:
        Lee et al., "ViTGAN: Training GANs with Vision Transformers",
        arXiv 2107.04589, section 5; Karras et al., StyleGAN2-ADA (EMA).
    """

    def __init__(
        self,
        generator,
        discriminator,
        ema_generator=None,
        bcr_real=10.0,
        bcr_fake=10.0,
        r1_gamma=0.0,
        augment_policy=augment.DEFAULT_POLICY,
        augment_p=0.8,
        bcr_policy="translation",
        ema_decay=0.999,
        ema_rampup=True,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(generator, Generator):
            raise TypeError(f"`generator` must be a vitgan_tf Generator. Received: {generator!r}")
        if not isinstance(discriminator, (Discriminator, StyleGAN2Discriminator)):
            raise TypeError(
                "`discriminator` must be a vitgan_tf Discriminator or StyleGAN2Discriminator. "
                f"Received: {discriminator!r}"
            )
        if (generator.image_size, generator.channels) != (
            discriminator.image_size, discriminator.channels
        ):
            raise ValueError(
                "Generator and discriminator image shapes differ: "
                f"G {generator.image_size}x{generator.image_size}x{generator.channels}, "
                f"D {discriminator.image_size}x{discriminator.image_size}x{discriminator.channels}"
            )
        for name, value in (("bcr_real", bcr_real), ("bcr_fake", bcr_fake), ("r1_gamma", r1_gamma)):
            if value < 0:
                raise ValueError(f"Expected `{name}` >= 0. Received: {name}={value}")
        if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"Expected `ema_decay` in [0, 1) or None. Received: ema_decay={ema_decay}")
        augment.parse_policy(augment_policy)
        augment.parse_policy(bcr_policy)
        augment._check_probability(augment_p, augment_policy)

        self.generator = generator
        self.discriminator = discriminator
        if ema_generator is None:
            ema_generator = Generator.from_config(
                {**generator.get_config(), "name": "ema_generator"}
            )
            ema_generator.set_weights(generator.get_weights())
        self.ema_generator = ema_generator
        self.bcr_real = float(bcr_real)
        self.bcr_fake = float(bcr_fake)
        self.r1_gamma = float(r1_gamma)
        self.augment_policy = augment_policy
        self.augment_p = dict(augment_p) if isinstance(augment_p, dict) else float(augment_p)
        self.bcr_policy = bcr_policy
        self.ema_decay = ema_decay
        self.ema_rampup = bool(ema_rampup)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="gan_seed_generator")
        # Train steps run (batches, skipped mixed_float16 updates included): the one step
        # counter of the run's callbacks; saved with the weights, so a resume restores it.
        self.train_steps = keras.Variable(0, dtype="int64", trainable=False, name="train_steps",
                                          aggregation="only_first_replica")
        self.trackers = [keras.metrics.Mean(name=name) for name in TRACKER_NAMES]
        self.multi_worker = False  # set by `compile` under MultiWorkerMirroredStrategy
        self.built = True

    # === Properties ===

    @property
    def z_dim(self):
        return self.generator.z_dim

    @property
    def metrics(self):
        return list(self.trackers)

    @property
    def use_bcr(self):
        return self.bcr_real > 0 or self.bcr_fake > 0

    def call(self, z, training=False):
        """Generates images from latents `z` `[B, z_dim]` with the EMA generator."""
        return self.ema_generator(z, training=training)

    def save_to_preset(self, preset_dir, metadata=None):
        """Writes the EMA generator and the discriminator as one preset folder.

        `Generator.from_preset(preset_dir)` then loads the EMA generator and
        `Discriminator.from_preset(preset_dir)` (or the StyleGAN2 one) the
        discriminator; `metadata` is merged into `metadata.json`
        (`vitgan_tf.models.preset_utils`).
        """
        from vitgan_tf.models import preset_utils  # noqa: PLC0415

        return preset_utils.save_to_preset(self.ema_generator, preset_dir, metadata,
                                           discriminator=self.discriminator)

    # === Compile ===

    def compile(self, g_optimizer=None, d_optimizer=None, jit_compile="auto", **kwargs):
        """Configures the two optimizers (Adam(2e-3, 0, 0.99) by default).

        Under a `mixed_float16` global policy both are wrapped in
        `keras.optimizers.LossScaleOptimizer` (Keras only wraps `optimizer`).

        Args:
            g_optimizer: `keras.optimizers.Optimizer` or None.
            d_optimizer: `keras.optimizers.Optimizer` or None.
            jit_compile: bool or "auto" (default; False on CPU and under a
                strategy). True: whole-step XLA on one device, per-replica
                gradient XLA under a strategy.
            **kwargs: passed to `keras.Model.compile` (e.g. `run_eagerly`,
                `steps_per_execution`); `optimizer` and `loss` are not allowed.
        """
        backend = keras.backend.backend()
        if backend not in ("tensorflow", "jax"):
            raise NotImplementedError(
                f"ViTGAN's train step runs on the TensorFlow and JAX backends; Keras runs on "
                f"{backend!r}. The models (Generator, Discriminator) run on any backend.")
        for key in ("optimizer", "loss"):
            if key in kwargs:
                raise ValueError(
                    f"ViTGAN.compile takes g_optimizer/d_optimizer and computes its own "
                    f"losses; received {key}={kwargs[key]!r}"
                )
        keras_jit_compile = self._keras_jit_compile(jit_compile)
        g_optimizer = g_optimizer or default_optimizer(name="g_adam")
        d_optimizer = d_optimizer or default_optimizer(name="d_adam")
        if keras.mixed_precision.global_policy().name == "mixed_float16":
            if not isinstance(g_optimizer, keras.optimizers.LossScaleOptimizer):
                g_optimizer = keras.optimizers.LossScaleOptimizer(g_optimizer, name="g_loss_scale")
            if not isinstance(d_optimizer, keras.optimizers.LossScaleOptimizer):
                d_optimizer = keras.optimizers.LossScaleOptimizer(d_optimizer, name="d_loss_scale")
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        # `optimizer=d_optimizer` gives Keras callbacks an `iterations` counter
        # (= train steps); Keras never updates it itself since we own train_step.
        super().compile(
            optimizer=d_optimizer,
            jit_compile=keras_jit_compile,
            auto_scale_loss=False,
            **kwargs,
        )
        self._compile_step()

    # === Randomness ===

    def sample_randomness(self, local_batch):
        """Latents and augmentation parameters of this replica's batch slice.

        Draws everything for the global batch (local * replicas) from the
        seed generator and slices, so results do not depend on the number
        of replicas. Returns a dict of tensors.
        """
        start, replicas = self._replica_slice(local_batch)
        total = local_batch * replicas
        size = self.generator.image_size

        def latents():
            z = keras.random.normal((total, self.z_dim), seed=self.seed_generator)
            return ops.slice(z, (start, 0), (local_batch, self.z_dim))

        def params(policy=self.augment_policy, p=self.augment_p):
            if not augment.parse_policy(policy):
                return {}
            drawn = augment.sample_params(total, size, self.seed_generator, policy, p)
            return augment.slice_params(drawn, start, local_batch)

        draws = {"z_d": latents(), "z_g": latents(), "aug_real": params(),
                 "aug_fake": params(), "aug_g": params()}
        if self.use_bcr:
            draws["bcr_real"] = params(self.bcr_policy, 1.0)
            draws["bcr_fake"] = params(self.bcr_policy, 1.0)
        return draws

    # === Losses ===

    def _discriminator_inputs(self, real, fake, draws):
        """D's one batch: A(x), A(G(z)) and, with bCR, T(A(x)), T(A(G(z))); `[k * B, H, W, C]`."""
        inputs = [augment.apply_params(real, draws["aug_real"]),
                  augment.apply_params(fake, draws["aug_fake"])]
        if self.use_bcr:
            inputs += [augment.apply_params(inputs[0], draws["bcr_real"]),
                       augment.apply_params(inputs[1], draws["bcr_fake"])]
        return ops.concatenate(inputs, axis=0)

    def _discriminator_loss(self, logits, batch, real_input_grads=None):
        """d_loss and (d_loss, d_real, d_fake, bcr) from D's float32 logits `[k * B, 1]`.

        `real_input_grads`: the gradient of sum(D(A(x))) w.r.t. A(x) (R1), or None.
        """
        real_logits, fake_logits = logits[:batch], logits[batch:2 * batch]
        adversarial = losses.nonsaturating_discriminator_loss(real_logits, fake_logits)
        bcr = ops.zeros((), "float32")
        if self.use_bcr:
            bcr = losses.bcr_penalty(real_logits, logits[2 * batch:3 * batch], self.bcr_real)
            bcr = bcr + losses.bcr_penalty(fake_logits, logits[3 * batch:], self.bcr_fake)
        r1 = ops.zeros((), "float32")
        if self.r1_gamma > 0:
            r1 = losses.r1_penalty(real_input_grads, self.r1_gamma)
        d_loss = adversarial + bcr + r1
        return d_loss, (d_loss, ops.mean(real_logits), ops.mean(fake_logits), bcr)

    # === Train step (the backend steps: tf_step.py, jax_step.py) ===

    def apply_step(self, real, draws):
        """One train step on `real` with given randomness; updates the weights.

        The update `fit` makes, with `draws` (the dict `sample_randomness`
        returns) in place of the seed generator's, on one device and either
        backend (for tests, and to reproduce a step across backends).
        Trackers are not updated.

        Returns:
            dict of floats: `d_loss`, `g_loss`, `d_real`, `d_fake`, `bcr`.
        """
        stats = self._apply(ops.cast(real, "float32"), draws)
        return {name: float(ops.convert_to_numpy(value))
                for name, value in zip(TRACKER_NAMES, stats)}

    @staticmethod
    def _real_batch(data):
        """The float32 real images of a `fit` batch and their static batch size."""
        real = data[0] if isinstance(data, (tuple, list)) else data
        real = ops.cast(real, "float32")
        if real.shape[0] is None:
            raise ValueError("ViTGAN needs a static batch size; batch with drop_remainder=True.")
        return real, real.shape[0]

    def _ema_decay(self, g_steps):
        """decay_t of the EMA after `g_steps` G updates."""
        decay = ops.convert_to_tensor(self.ema_decay, "float32")
        if self.ema_rampup:
            step = ops.cast(g_steps, "float32")
            decay = ops.minimum(decay, (1.0 + step) / (10.0 + step))
        return decay

    def update_ema(self):
        """ema <- g + decay * (ema - g) on trainable weights; copies the rest."""
        if self.ema_decay is None:
            return
        decay = self._ema_decay(self.g_optimizer.iterations)
        for ema, weight in zip(self.ema_generator.trainable_variables,
                               self.generator.trainable_variables):
            ema.assign(weight + ops.cast(decay, weight.dtype) * (ema - weight))
        for ema, weight in zip(self.ema_generator.non_trainable_variables,
                               self.generator.non_trainable_variables):
            ema.assign(weight)

    # === State ===

    def _own_variables(self):
        own = self._trainable_variables + self._non_trainable_variables
        return [v for v in own if v is not self.train_steps]

    def save_own_variables(self, store):
        """Also saves the seed generator's state and the step counter (exact resume)."""
        store["seed_generator_state"] = self.seed_generator.state
        store["train_steps"] = self.train_steps
        for i, variable in enumerate(self._own_variables()):
            store[f"{i}"] = variable

    def load_own_variables(self, store):
        if "seed_generator_state" in store:
            self.seed_generator.state.assign(store["seed_generator_state"])
        if "train_steps" in store:
            self.train_steps.assign(store["train_steps"])
        else:
            warnings.warn("These ViTGAN weights predate its train_steps counter: it stays at "
                          f"{int(self.train_steps.numpy())}", stacklevel=2)
        for i, variable in enumerate(self._own_variables()):
            variable.assign(store[f"{i}"])

    # === Config ===

    def get_config(self):
        return {
            "name": self.name,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "bcr_real": self.bcr_real,
            "bcr_fake": self.bcr_fake,
            "r1_gamma": self.r1_gamma,
            "augment_policy": self.augment_policy,
            "augment_p": self.augment_p,
            "bcr_policy": self.bcr_policy,
            "ema_decay": self.ema_decay,
            "ema_rampup": self.ema_rampup,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
