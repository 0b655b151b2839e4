"""`ViTGAN`'s train step on the TensorFlow backend: `tf.GradientTape` and `tf.distribute`.

A mixin of `vitgan_tf.training.ViTGAN` (as Keras' own `TensorFlowTrainer` is of
`keras.Model`); the maths it differentiates (D's inputs and loss, the G loss,
the EMA) is the backend-neutral part in `gan.py`.
"""

import contextlib

import keras
import tensorflow as tf
from keras import ops

from vitgan_tf.training import augment, losses


class TensorFlowStep:
    """The TensorFlow train step: `train_step(data) -> logs`.

    One device, or every replica of a `tf.distribute` strategy: each replica
    draws the global batch's randomness and uses its slice, and the losses
    are divided by the number of replicas (the optimizer sums the gradients).
    With `jit_compile=True` under a strategy, the per-replica gradients are
    compiled by XLA (`_discriminator_gradients`, `_generator_gradients`).
    """

    def _keras_jit_compile(self, jit_compile):
        """Reads the strategy; returns the `jit_compile` that Keras' own compile gets."""
        strategy = tf.distribute.get_strategy()
        self.distributed = tf.distribute.has_strategy() and not isinstance(
            strategy, tf.distribute.OneDeviceStrategy)
        self.replica_jit = bool(jit_compile is True and self.distributed)
        # Keras reduces train_step outputs with strategy.reduce(MEAN, axis=0)
        # under MultiWorkerMirroredStrategy, which fails on scalars: there
        # train_step returns shape-[1] values (reduced to scalars by Keras).
        self.multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        return False if self.replica_jit else jit_compile

    def _compile_step(self):
        """Builds both optimizers under the strategy and picks the gradient functions."""
        scope = tf.distribute.get_strategy().scope() if tf.distribute.has_strategy() else (
            contextlib.nullcontext())
        with scope:
            self.d_optimizer.build(self.discriminator.trainable_variables)
            self.g_optimizer.build(self.generator.trainable_variables)
        if self.replica_jit:
            self._d_grad_fn = tf.function(self._discriminator_gradients, jit_compile=True)
            self._g_grad_fn = tf.function(self._generator_gradients, jit_compile=True)
        else:
            self._d_grad_fn = self._discriminator_gradients
            self._g_grad_fn = self._generator_gradients

    def _replica_slice(self, local_batch):
        """(start, num_replicas) of this replica's slice of the global batch."""
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return 0, 1
        replica = context.replica_id_in_sync_group
        return replica * local_batch, context.num_replicas_in_sync

    # === Gradients ===

    def _discriminator_gradients(self, real, draws, num_replicas):
        """D loss terms, D gradients, the new ISN vectors and G's new non-trainable values
        (`w_avg`, from the call that makes D's fakes); none of them assigned."""
        disc, gen = self.discriminator, self.generator
        # Stateless, as D's own call: a variable assigned here would need a merge_call under
        # a strategy, which a nested tf.function (replica XLA) cannot make.
        with keras.StatelessScope() as g_scope:
            fake = ops.stop_gradient(gen(draws["z_d"], training=True))
        g_updates = [g_scope.get_current_value(v) for v in gen.non_trainable_variables]
        inputs = self._discriminator_inputs(real, fake, draws)
        batch = ops.shape(real)[0]
        with keras.StatelessScope() as scope, tf.GradientTape() as tape:
            with tf.GradientTape(watch_accessed_variables=False) as input_tape:
                input_tape.watch(inputs)
                logits = ops.cast(disc(inputs, training=True), "float32")  # [k * B, 1]
                real_sum = ops.sum(logits[:batch])  # for R1, recorded by input_tape
            real_input_grads = None
            if self.r1_gamma > 0:
                real_input_grads = input_tape.gradient(real_sum, inputs)[:batch]
            d_loss, stats = self._discriminator_loss(logits, batch, real_input_grads)
            scaled = self.d_optimizer.scale_loss(d_loss / num_replicas)
        grads = tape.gradient(scaled, disc.trainable_variables)
        updates = [scope.get_current_value(v) for v in disc.non_trainable_variables]
        return grads, updates, g_updates, stats

    def _generator_gradients(self, draws, num_replicas):
        """G loss, G gradients and G's new non-trainable values (not assigned)."""
        gen = self.generator
        with keras.StatelessScope() as scope, tf.GradientTape() as tape:
            fake = gen(draws["z_g"], training=True)
            logits = self.discriminator(augment.apply_params(fake, draws["aug_g"]), training=False)
            g_loss = losses.nonsaturating_generator_loss(logits)
            scaled = self.g_optimizer.scale_loss(g_loss / num_replicas)
        grads = tape.gradient(scaled, gen.trainable_variables)
        updates = [scope.get_current_value(v) for v in gen.non_trainable_variables]
        return grads, g_loss, updates

    def compute_gradients(self, real):
        """(D gradients, G gradients) of one step on `real`, no update (for tests)."""
        draws = self.sample_randomness(ops.shape(real)[0])
        d_grads = self._discriminator_gradients(real, draws, 1)[0]
        g_grads = self._generator_gradients(draws, 1)[0]
        return d_grads, g_grads

    @staticmethod
    def _assign(variables, values):
        for variable, value in zip(variables, values):
            if value is not None:
                variable.assign(value)

    # === Step ===

    def _apply(self, real, draws, num_replicas=1):
        """The step's updates; returns (d_loss, g_loss, d_real, d_fake, bcr)."""
        d_grads, updates, g_updates, (d_loss, d_real, d_fake, bcr) = self._d_grad_fn(
            real, draws, num_replicas
        )
        self._assign(self.discriminator.non_trainable_variables, updates)
        self._assign(self.generator.non_trainable_variables, g_updates)  # before G's own call
        self.d_optimizer.apply_gradients(zip(d_grads, self.discriminator.trainable_variables))

        g_grads, g_loss, g_updates = self._g_grad_fn(draws, num_replicas)
        self._assign(self.generator.non_trainable_variables, g_updates)
        self.g_optimizer.apply_gradients(zip(g_grads, self.generator.trainable_variables))
        self.update_ema()
        self.train_steps.assign_add(1)
        return d_loss, g_loss, d_real, d_fake, bcr

    def train_step(self, data):
        """One D step, G step and EMA update on a batch (the class docstring of `ViTGAN`)."""
        real, local_batch = self._real_batch(data)
        _, num_replicas = self._replica_slice(local_batch)
        draws = self.sample_randomness(local_batch)
        stats = ops.stack(self._apply(real, draws, num_replicas))
        if num_replicas > 1:
            stats = tf.distribute.get_replica_context().all_reduce("mean", stats)
        for tracker, value in zip(self.trackers, ops.unstack(stats)):
            tracker.update_state(value)
        if self.multi_worker:
            return {m.name: ops.reshape(m.result(), (1,)) for m in self.metrics}
        return {m.name: m.result() for m in self.metrics}
