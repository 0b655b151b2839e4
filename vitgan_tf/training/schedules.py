"""Learning-rate schedules of the run configs (`optimizer.warmup_steps`)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="vitgan_tf")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """`learning_rate * min(1, (step + 1) / warmup_steps)`, then constant.

    The warm-up of the ViTGAN authors' StyleGAN2-D training script
    (`--use_warmup`, 3000 steps in their configs), per optimizer step.

    Args:
        learning_rate: float > 0. The rate after the warm-up.
        warmup_steps: int > 0.
    """

    def __init__(self, learning_rate, warmup_steps):
        if not learning_rate > 0:
            raise ValueError(f"Expected `learning_rate` > 0. Received: {learning_rate!r}")
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps <= 0:
            raise ValueError(f"Expected an integer `warmup_steps` > 0. Received: {warmup_steps!r}")
        self.learning_rate = float(learning_rate)
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        ratio = (ops.cast(step, "float32") + 1.0) / float(self.warmup_steps)
        return self.learning_rate * ops.minimum(1.0, ratio)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "warmup_steps": self.warmup_steps}
