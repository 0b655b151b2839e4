"""Logits for the Inception Score from a classifier the user has locally.

The TorchScript weights behind our FID network stop at pool_3, so the 1008
logits of the 2015 graph come from elsewhere, never from the network at run
time (the project machines are offline):

1. a TF-Hub / SavedModel folder of TF-GAN's `tfgan/eval/inception/1`
   (the canonical IS network: called on 299x299 images scaled as
   (x - 128) / 128, returns {"logits": [b, 1008], "pool_3": ...}); any
   SavedModel whose call or serving signature returns "logits" works;
2. `keras.applications.InceptionV3` ImageNet weights (a `.h5` file given by
   path, or Keras' cache file `~/.keras/models/inception_v3_weights_tf_dim_
   ordering_tf_kernels.h5`). NOTE: a different network (2016 retraining,
   1000 classes): its IS is not comparable with published numbers.

Reference:
    TF-GAN `inception_metrics.classifier_fn_from_tfhub`;
    Salimans et al., arXiv 1606.03498.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from vitgan_tf.metrics.inception import InceptionFeatureExtractor
from vitgan_tf.metrics.inception import InceptionPreprocessing

__all__ = ["LogitsClassifier", "load_logits_classifier"]

KERAS_INCEPTION_V3_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"


def _keras_cache_file():
    return os.path.join(os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras")), "models", KERAS_INCEPTION_V3_FILE)


class LogitsClassifier:
    """Images -> logits, batch by batch, with the Inception preprocessing.

    Args:
        fn: callable on [b, 299, 299, 3] float32 inputs in [-1, 1], returning
            logits [b, k].
        input_scale: "tf_inception" ((x - 128) / 128, the 2015 graph) or
            "keras" (x / 127.5 - 1, keras.applications).
        name: str. Describes the classifier (reported in results).
        batch_size: int, default 50.
    """

    def __init__(self, fn, input_scale, name, batch_size=50):
        if input_scale not in ("tf_inception", "keras"):
            raise ValueError(f"Expected `input_scale` in ('tf_inception', 'keras'). Received: {input_scale!r}")
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"Expected `batch_size` > 0. Received: batch_size={batch_size!r}")
        self.fn = fn
        self.input_scale = input_scale
        self.name = name
        self.batch_size = batch_size
        self._preprocess = {}

    def __call__(self, images):
        """Logits [n, k] float32 (numpy) of uint8 or [-1, 1] float NHWC images."""
        x = InceptionFeatureExtractor.to_uint8_range(images)
        shape = tuple(x.shape[1:])
        if shape not in self._preprocess:
            layer = InceptionPreprocessing()
            layer.build((None, *shape))
            self._preprocess[shape] = layer
        pre = self._preprocess[shape]
        outs = []
        for i in range(0, int(x.shape[0]), self.batch_size):
            inputs = pre(x[i : i + self.batch_size])
            if self.input_scale == "keras":
                inputs = (inputs * 128.0 + 128.0) / 127.5 - 1.0
            logits = tf.convert_to_tensor(self.fn(inputs))
            if logits.shape.rank != 2:
                raise ValueError(f"{self.name}: expected logits of rank 2. Received: shape={tuple(logits.shape)}")
            outs.append(logits.numpy().astype(np.float32))
        return np.concatenate(outs, axis=0)


def _saved_model_fn(path):
    obj = tf.saved_model.load(path)

    def pick(outputs):
        if isinstance(outputs, dict):
            if "logits" in outputs:
                return outputs["logits"]
            if len(outputs) == 1:
                return next(iter(outputs.values()))
            raise ValueError(f"{path}: outputs {sorted(outputs)} have no 'logits'.")
        return outputs

    if callable(obj):
        return lambda x: pick(obj(x))
    signatures = getattr(obj, "signatures", {})
    for key in ("default", "serving_default"):
        if key in signatures:
            sig = signatures[key]
            (input_name,) = sig.structured_input_signature[1].keys()
            return lambda x: pick(sig(**{input_name: x}))
    raise ValueError(f"{path}: SavedModel is neither callable nor has a 'default'/'serving_default' signature.")


def load_logits_classifier(source=None, batch_size=50):
    """The classifier for the Inception Score.

    Args:
        source: str or None, default None. A SavedModel / TF-Hub folder
            (tfgan/eval/inception/1), a keras.applications InceptionV3 `.h5`
            weights file, or "keras" for Keras' cached ImageNet weights. None:
            `$VITGAN_TF_CACHE/tfgan_eval_inception_1/` if present, else the
            Keras cache file if present.
        batch_size: int, default 50.

    Returns:
        `LogitsClassifier`.

    Raises:
        FileNotFoundError: no such classifier on this machine (nothing is
            downloaded); the message lists what is accepted.
    """
    from vitgan_tf.metrics.inception_weights import cache_dir  # noqa: PLC0415

    if source is None:
        hub_dir = os.path.join(cache_dir(), "tfgan_eval_inception_1")
        if os.path.isfile(os.path.join(hub_dir, "saved_model.pb")):
            source = hub_dir
        elif os.path.isfile(_keras_cache_file()):
            source = "keras"
    if source == "keras":
        source = _keras_cache_file()
    if source is None or not os.path.exists(source):
        raise FileNotFoundError(
            "No classifier for the Inception Score on this machine"
            + (f" ({source!r} does not exist)" if source else "")
            + ". The FID weights (pool_3) have no logits. Give one of: the TF-Hub "
            "module tfgan/eval/inception/1 unpacked as a SavedModel folder (canonical IS), "
            f"e.g. in {os.path.join(cache_dir(), 'tfgan_eval_inception_1')}; or "
            f"keras.applications InceptionV3 ImageNet weights ({KERAS_INCEPTION_V3_FILE}, "
            "a different network). Nothing is downloaded at evaluation time."
        )
    if os.path.isdir(source):
        if not os.path.isfile(os.path.join(source, "saved_model.pb")):
            raise FileNotFoundError(f"{source!r} is a folder without saved_model.pb (not a SavedModel).")
        return LogitsClassifier(_saved_model_fn(source), "tf_inception", f"savedmodel:{source}", batch_size)
    if source.endswith(".h5"):
        model = keras.applications.InceptionV3(weights=source, classifier_activation=None)
        fn = tf.function(lambda x: model(x, training=False), autograph=False)
        return LogitsClassifier(fn, "keras", f"keras.applications.InceptionV3:{source}", batch_size)
    raise ValueError(f"Unrecognised IS classifier {source!r}: expected a SavedModel folder or an .h5 file.")
