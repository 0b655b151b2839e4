"""Evaluation metrics: FID, KID and IS with the 2015 Inception network (TF-GAN conventions)."""

from vitgan_tf.metrics.distances import RunningStatistics
from vitgan_tf.metrics.distances import classifier_score_from_logits
from vitgan_tf.metrics.distances import frechet_classifier_distance_from_activations
from vitgan_tf.metrics.distances import frechet_distance_from_statistics
from vitgan_tf.metrics.distances import kernel_classifier_distance_and_std_from_activations
from vitgan_tf.metrics.distances import kernel_classifier_distance_from_activations
from vitgan_tf.metrics.distances import trace_sqrt_product
