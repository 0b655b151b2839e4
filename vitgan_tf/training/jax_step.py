"""`ViTGAN`'s train step on the JAX backend: stateless, as Keras' `JAXTrainer` calls it.

A mixin of `vitgan_tf.training.ViTGAN` (as Keras' own `JAXTrainer` is of
`keras.Model`); the maths it differentiates (D's inputs and loss, the G loss,
the EMA) is the backend-neutral part in `gan.py`. It needs no TensorFlow.
"""

import keras
from keras import ops

from vitgan_tf.training import augment, losses


class JAXStep:
    """The JAX train step: `train_step(state, data) -> (logs, state)`.

    The same maths and randomness as the TensorFlow step, written for the
    global batch; under `keras.distribution.DataParallel` every device
    computes the global batch's step on its shard, as XLA partitions it.
    """

    def _keras_jit_compile(self, jit_compile):
        """The `jit_compile` that Keras' own compile gets; refuses loss scaling."""
        if keras.mixed_precision.global_policy().name == "mixed_float16":
            raise ValueError("The JAX train step does not support mixed_float16 (loss "
                             "scaling); use mixed_bfloat16 or float32.")
        return jit_compile

    def _compile_step(self):
        """Builds both optimizers; gives Keras' trainer both optimizers' variables."""
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        # Keras' JAX trainer carries `model.optimizer.variables` in its state.
        self.optimizer = _OptimizerPair(self.d_optimizer, self.g_optimizer)

    def _replica_slice(self, local_batch):
        """(0, 1): the step is written for the global batch."""
        return 0, 1

    def _step_variables(self):
        """Every variable the step reads or writes (model and both optimizers)."""
        return (self.trainable_variables + self.non_trainable_variables
                + self.d_optimizer.variables + self.g_optimizer.variables)

    def _apply(self, real, draws):
        """One step on the variables' current values, assigned back; returns the stats."""
        variables = self._step_variables()
        values, stats = self._stateless_apply({id(v): v.value for v in variables}, real, draws)
        for variable in variables:
            variable.assign(values[id(variable)])
        return stats

    def train_step(self, state, data):
        """The stateless step of Keras' JAX trainer: (logs, new state).

        `state` is (trainable, non-trainable, optimizer, metrics variables'
        values); `model.optimizer.variables` are both optimizers'.
        """
        trainable, non_trainable, optimizer_values, metric_values = state
        groups = (self.trainable_variables, self.non_trainable_variables, self.optimizer.variables)
        values = {}
        for variables, group_values in zip(groups, (trainable, non_trainable, optimizer_values)):
            values.update((id(v), x) for v, x in zip(variables, group_values))
        real, local_batch = self._real_batch(data)
        seed_state = self.seed_generator.state
        with keras.StatelessScope(state_mapping=[(seed_state, values[id(seed_state)])]) as scope:
            draws = self.sample_randomness(local_batch)
        values[id(seed_state)] = scope.get_current_value(seed_state)
        values, stats = self._stateless_apply(values, real, draws)

        metric_values, logs, start = list(metric_values), {}, 0
        for tracker, value in zip(self.trackers, stats):
            end = start + len(tracker.variables)
            metric_values[start:end] = tracker.stateless_update_state(metric_values[start:end], value)
            logs[tracker.name] = tracker.stateless_result(metric_values[start:end])
            start = end
        new_state = tuple([values[id(v)] for v in variables] for variables in groups)
        return logs, new_state + (metric_values,)

    def _stateless_apply(self, values, real, draws):
        """The step as a function of variable values: ({id(variable): value}, stats).

        The same maths as the TensorFlow step: one D call on the concatenated
        batch (ISN's power iteration advances once), R1 through that call,
        then G's step against the updated D with `training=False`, then EMA.
        """
        import jax  # noqa: PLC0415  (the JAX backend's own dependency)

        values = dict(values)

        def take(variables):
            return [values[id(v)] for v in variables]

        def put(variables, new_values):
            values.update((id(v), x) for v, x in zip(variables, new_values))

        gen, disc = self.generator, self.discriminator
        g_vars = (gen.trainable_variables, gen.non_trainable_variables)
        d_vars = (disc.trainable_variables, disc.non_trainable_variables)
        batch = real.shape[0]

        fake, g_non_trainable = gen.stateless_call(*map(take, g_vars), draws["z_d"], training=True)
        put(g_vars[1], g_non_trainable)
        inputs = self._discriminator_inputs(real, ops.stop_gradient(fake), draws)

        def d_loss_fn(d_trainable):
            def forward(x):
                logits, non_trainable = disc.stateless_call(
                    d_trainable, take(d_vars[1]), x, training=True)
                return ops.cast(logits, "float32"), non_trainable

            real_input_grads = None
            if self.r1_gamma > 0:
                logits, pullback, non_trainable = jax.vjp(forward, inputs, has_aux=True)
                real_rows = ops.cast(ops.arange(logits.shape[0]) < batch, "float32")[:, None]
                real_input_grads = pullback(ops.broadcast_to(real_rows, logits.shape))[0][:batch]
            else:
                logits, non_trainable = forward(inputs)
            d_loss, stats = self._discriminator_loss(logits, batch, real_input_grads)
            return d_loss, (stats, non_trainable)

        d_grads, (stats, d_non_trainable) = jax.grad(d_loss_fn, has_aux=True)(take(d_vars[0]))
        put(d_vars[1], d_non_trainable)
        new_d, new_d_optimizer = self.d_optimizer.stateless_apply(
            take(self.d_optimizer.variables), d_grads, take(d_vars[0]))
        put(d_vars[0], new_d)
        put(self.d_optimizer.variables, new_d_optimizer)

        def g_loss_fn(g_trainable):
            fake, non_trainable = gen.stateless_call(
                g_trainable, take(g_vars[1]), draws["z_g"], training=True)
            logits, _ = disc.stateless_call(
                *map(take, d_vars), augment.apply_params(fake, draws["aug_g"]), training=False)
            return losses.nonsaturating_generator_loss(logits), non_trainable

        (g_loss, g_non_trainable), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
            take(g_vars[0]))
        put(g_vars[1], g_non_trainable)
        new_g, new_g_optimizer = self.g_optimizer.stateless_apply(
            take(self.g_optimizer.variables), g_grads, take(g_vars[0]))
        put(g_vars[0], new_g)
        put(self.g_optimizer.variables, new_g_optimizer)

        if self.ema_decay is not None:
            ema = self.ema_generator
            decay = self._ema_decay(values[id(self.g_optimizer.iterations)])
            put(ema.trainable_variables,
                [w + ops.cast(decay, w.dtype) * (e - w)
                 for e, w in zip(take(ema.trainable_variables), new_g)])
            put(ema.non_trainable_variables, g_non_trainable)
        values[id(self.train_steps)] = values[id(self.train_steps)] + 1
        d_loss, d_real, d_fake, bcr = stats
        return values, (d_loss, g_loss, d_real, d_fake, bcr)


class _OptimizerPair:
    """`model.optimizer` for Keras' JAX trainer: D's optimizer with G's variables added.

    The trainer carries `model.optimizer.variables` through its stateless
    step and reads the rest (`iterations`, `built`, `learning_rate`) from
    `model.optimizer`; those come from D's optimizer, as on TensorFlow.
    """

    def __init__(self, d_optimizer, g_optimizer):
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    @property
    def variables(self):
        return self.d_optimizer.variables + self.g_optimizer.variables

    def __getattr__(self, name):
        if name in ("d_optimizer", "g_optimizer"):
            raise AttributeError(name)
        return getattr(self.d_optimizer, name)
