"""MirroredStrategy on 2 logical CPUs and MultiWorkerMirroredStrategy on loopback.

Logical devices must be configured before TensorFlow initialises, so each
case runs in a fresh subprocess; the test kills its processes in all cases.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np

from tests.test_case import TestCase

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MIRRORED_SCRIPT = textwrap.dedent("""
    import json, os, sys
    sys.path.insert(0, {repo!r})
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    from vitgan_tf.models import Generator, Discriminator, StyleGAN2Discriminator
    from vitgan_tf.training import ViTGAN, run

    def build(strategy, jit=False, hybrid=False):
        # SGD: its update is linear in the gradient, so the comparison measures the
        # gradient all-reduce. Adam divides by sqrt(v): a weight whose gradient is
        # ~1e-9 moves by +-lr whatever the sign's float rounding, on either side.
        with strategy.scope():
            disc = (StyleGAN2Discriminator.from_architecture("tiny", width_multiplier=1 / 32) if hybrid
                    else Discriminator.from_architecture("tiny"))
            gan = ViTGAN(Generator.from_architecture("tiny"), disc, seed=7)
            gan.compile(g_optimizer=keras.optimizers.SGD(0.05), d_optimizer=keras.optimizers.SGD(0.05),
                        jit_compile=jit)
        return gan

    def copy_weights(src, dst):
        for name in ("generator", "discriminator", "ema_generator"):
            getattr(dst, name).set_weights(getattr(src, name).get_weights())

    def replica_values(variable):
        inner = variable.value if hasattr(variable, "value") else variable
        inner = getattr(variable, "_value", inner)
        return [np.asarray(v) for v in getattr(inner, "values", [inner])]

    x = np.random.RandomState(0).uniform(-1, 1, (2, 8, 16, 16, 3)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(x)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    single = build(tf.distribute.get_strategy())
    multi = build(mirrored)
    copy_weights(single, multi)
    out = {{"replicas": mirrored.num_replicas_in_sync}}
    out["single"] = single.fit(dataset, epochs=1, verbose=0).history
    out["multi"] = multi.fit(dataset, epochs=1, verbose=0).history
    diffs = {{}}
    for name in ("generator", "discriminator", "ema_generator"):
        a, b = getattr(single, name).weights, getattr(multi, name).weights
        diffs[name] = max(float(np.abs(np.asarray(u) - np.asarray(v)).max()) for u, v in zip(a, b))
    out["weight_diff"] = diffs
    out["train_steps"] = [int(np.asarray(single.train_steps)), int(max(replica_values(multi.train_steps)))]
    sync = []
    for var in multi.discriminator.non_trainable_variables + multi.ema_generator.weights:
        values = replica_values(var)
        sync.append(max(float(np.abs(values[0] - v).max()) for v in values))
    out["n_replica_values"] = len(replica_values(multi.discriminator.non_trainable_variables[0]))
    out["replica_desync"] = max(sync)
    xla = build(mirrored, jit=True)
    out["xla"] = xla.fit(dataset, epochs=1, verbose=0).history
    # The hybrid (StyleGAN2 D): its minibatch stddev groups each replica's own slice, so
    # only that it trains with replicas in sync is checked. Not under XLA here: the ViT
    # fit above covers the step's code under XLA and the strategy together, and
    # tests/test_stylegan2.py the hybrid's XLA step on one device (an XLA fit under the
    # strategy costs about a minute of the suite: docs/testing.md).
    hybrid = build(mirrored, hybrid=True)
    out["hybrid"] = hybrid.fit(dataset, epochs=1, verbose=0).history
    out["hybrid_desync"] = max(
        max(float(np.abs(replica_values(v)[0] - r).max()) for r in replica_values(v))
        for v in hybrid.discriminator.trainable_variables)
    try:
        run.train({{"model": {{"preset": "tiny"}}, "data": {{"batch_size": 5}},
                   "train": {{"steps": 1}}}}, sys.argv[1], strategy=mirrored, verbose=0)
        out["batch_error"] = None
    except ValueError as error:
        out["batch_error"] = str(error)
    print("RESULT " + json.dumps(out))
""")

WORKER_SCRIPT = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {repo!r})
    import numpy as np
    import tensorflow as tf
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    from vitgan_tf.training import run
    config = {{"model": {{"preset": "tiny"}}, "data": {{"source": "synthetic", "batch_size": 8}},
              "train": {{"steps": 2, "log_every": 1, "sample_every": 2, "num_samples": 4}}}}
    gan = run.train(config, sys.argv[1], strategy=strategy, verbose=0)
    weights = [np.asarray(w) for w in gan.generator.weights + gan.discriminator.weights
               + gan.ema_generator.weights]
    np.savez(sys.argv[2], *weights)
    print("STEPS", int(gan.d_optimizer.iterations.numpy()), "TRAIN_STEPS", int(gan.train_steps.numpy()))
""")


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def communicate_all(procs, timeout):
    """Waits for every process; kills all of them on timeout or error."""
    outputs = []
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=timeout)
            outputs.append(out.decode(errors="replace"))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return outputs


class DistributedTest(TestCase):
    def _env(self, **extra):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **extra)
        env.pop("TF_CONFIG", None)
        env.update(extra)
        return env

    def test_mirrored_two_cpus_equals_one_device(self):
        script = os.path.join(self.get_temp_dir(), "mirrored.py")
        with open(script, "w") as f:
            f.write(MIRRORED_SCRIPT.format(repo=REPO))
        proc = subprocess.Popen([sys.executable, script, os.path.join(self.get_temp_dir(), "run")],
                                env=self._env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        (output,) = communicate_all([proc], timeout=400)
        lines = [l for l in output.splitlines() if l.startswith("RESULT ")]
        self.assertTrue(lines, output[-3000:])
        result = json.loads(lines[-1][len("RESULT "):])
        self.assertEqual(result["replicas"], 2)
        for key, values in result["single"].items():
            self.assertAllClose(values, result["multi"][key], atol=1e-4, rtol=1e-4, msg=key)
        for name, diff in result["weight_diff"].items():
            self.assertLess(diff, 1e-4, name)
        self.assertEqual(result["n_replica_values"], 2)
        self.assertLess(result["replica_desync"], 1e-6)
        self.assertEqual(result["train_steps"], [2, 2])  # one count per step, not per replica
        self.assertTrue(all(np.isfinite(v).all() for v in result["xla"].values()))
        history = result["hybrid"]
        self.assertTrue(all(np.isfinite(v).all() for v in history.values()), history)
        self.assertGreater(history["bcr"][0], 0.0)
        self.assertLess(result["hybrid_desync"], 1e-6)
        self.assertIn("batch_size=5", result["batch_error"])
        self.assertIn("2 replicas", result["batch_error"])

    def test_multiworker_two_processes_end_with_identical_weights(self):
        script = os.path.join(self.get_temp_dir(), "worker.py")
        with open(script, "w") as f:
            f.write(WORKER_SCRIPT.format(repo=REPO))
        ports = free_ports(2)
        cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
        out_dir = os.path.join(self.get_temp_dir(), "mw_run")
        procs = []
        for index in range(2):
            tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            weights = os.path.join(self.get_temp_dir(), f"weights_{index}.npz")
            procs.append(subprocess.Popen(
                [sys.executable, script, out_dir, weights], env=self._env(TF_CONFIG=tf_config),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        outputs = communicate_all(procs, timeout=400)
        for proc, output in zip(procs, outputs):
            self.assertEqual(proc.returncode, 0, output[-3000:])
            self.assertIn("STEPS 2 TRAIN_STEPS 2", output)
        a = np.load(os.path.join(self.get_temp_dir(), "weights_0.npz"))
        b = np.load(os.path.join(self.get_temp_dir(), "weights_1.npz"))
        self.assertEqual(len(a.files), len(b.files))
        for key in a.files:
            self.assertAllClose(a[key], b[key], atol=1e-6, msg=key)
        self.assertTrue(os.path.exists(os.path.join(out_dir, "samples_000002.png")))
