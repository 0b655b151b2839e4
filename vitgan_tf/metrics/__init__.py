"""Evaluation metrics: FID, KID and IS with the 2015 Inception network (TF-GAN conventions)."""

from vitgan_tf.metrics.distances import RunningStatistics
from vitgan_tf.metrics.distances import classifier_score_from_logits
from vitgan_tf.metrics.distances import frechet_classifier_distance_from_activations
from vitgan_tf.metrics.distances import frechet_distance_from_statistics
from vitgan_tf.metrics.distances import kernel_classifier_distance_and_std_from_activations
from vitgan_tf.metrics.distances import kernel_classifier_distance_from_activations
from vitgan_tf.metrics.distances import trace_sqrt_product
from vitgan_tf.metrics.inception import ConvBatchNormReLU
from vitgan_tf.metrics.inception import InceptionFeatureExtractor
from vitgan_tf.metrics.inception import InceptionPreprocessing
from vitgan_tf.metrics.inception import inception_v3_fid
from vitgan_tf.metrics.inception_weights import cache_dir
from vitgan_tf.metrics.inception_weights import fetch_fid_helper_wheel
from vitgan_tf.metrics.inception_weights import load_inception_weights
from vitgan_tf.metrics.classifiers import LogitsClassifier
from vitgan_tf.metrics.classifiers import load_logits_classifier
from vitgan_tf.metrics.datasets import load_dataset
from vitgan_tf.metrics.evaluation import ImageStatistics
from vitgan_tf.metrics.evaluation import collect_statistics
from vitgan_tf.metrics.evaluation import compute_metrics
from vitgan_tf.metrics.evaluation import metric_name
from vitgan_tf.metrics.evaluation import reference_statistics


def __getattr__(name):
    # `FIDCallback` lives with the other training callbacks (it imports this package, so it is
    # read on first use): vitgan_tf.training.callbacks.FIDCallback.
    if name == "FIDCallback":
        from vitgan_tf.training.callbacks import FIDCallback  # noqa: PLC0415

        return FIDCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
