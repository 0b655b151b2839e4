"""One prepared check of vitgan_tf on an accelerator, through Keras' JAX backend.

For a GPU machine without network and without TensorFlow (how to carry
Keras there: README, "Backends"). One command, about 8 minutes on one GPU (estimated):

    KERAS_BACKEND=jax python bench/gpu_check.py --out OUT

then, back on a machine with TensorFlow, KID and FID of the samples it wrote:

    python bench/gpu_check.py --kid OUT

On CPU with tiny models and budgets (CI; about a minute):

    KERAS_BACKEND=jax python bench/gpu_check.py --tiny --out /tmp/gpu_check

It prints a table and writes OUT/gpu_check.json:

- the device, backend and versions;
- the cifar10 preset's train step (batch 64; the paper's D: L2 attention,
  ISN; bCR, DiffAugment, EMA) in float32 and mixed_bfloat16: images/s from
  the median step time after the compiling step, and whether every loss was
  finite;
- G inference (cifar10 preset, `training=False`, one compiled function) at
  batch 64 and 512: images/s;
- Inception features: not run there. The 2015 Inception's weights (95 MB in
  float32) do not fit the 64 MiB that travel to the GPU machine, and the FID
  code uses TensorFlow; `--kid` computes them afterwards;
- a timed run of the paper-size model (the cifar10 architecture at 1
  channel, batch 128, Adam(2e-3, 0, 0.99)) on Fashion-MNIST padded to
  32x32, for the full recipe (L2 attention + ISN, with the fashion_mnist
  recipe's bCR 1, DiffAugment p = 0.3 and EMA), for plain SN, and for the
  authors' hybrid (the StyleGAN2 discriminator at full width), each for
  `--run-minutes` of training (default 1.5, so that the whole check, with its
  XLA compilations, stays near 8 minutes; an estimate until a GPU runs it): steps, images/s, the last losses,
  and 2000 EMA-generator samples in OUT/samples_{variant}.npz (uint8) for
  `--kid` (2000 samples against 10000 real training images, cached).
"""

import argparse
import json
import os
import platform
import sys
import time

import keras  # on the backend KERAS_BACKEND names: jax for the check, tensorflow for --kid
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # a bare checkout on the GPU machine: nothing pip-installed
    sys.path.insert(0, REPO)

# The timed runs: name -> the discriminator (the paper's ViT D with ISN or plain SN, or the
# authors' hybrid: the StyleGAN2 D, narrowed by `width` in --tiny).
TIMED_RUNS = {"full": {"architecture": "vit", "spectral_norm": "isn"},
              "plain_sn": {"architecture": "vit", "spectral_norm": "sn"},
              "hybrid": {"architecture": "stylegan2"}}
SIZES = {
    # preset of the speed checks, its batch and timed steps, G inference batches, the
    # timed run's preset overrides, batch, minutes and samples
    "gpu": {"preset": "cifar10", "batch": 64, "steps": 20, "inference": (64, 512),
            "run_model": {"preset": "cifar10", "channels": 1}, "run_batch": 128,
            "run_images": None, "run_minutes": 1.5, "samples": 2000, "repeats": 10,
            "hybrid_width": 1.0},
    "tiny": {"preset": "tiny", "batch": 8, "steps": 3, "inference": (8, 32),
             "run_model": {"preset": "tiny", "image_size": 32, "channels": 1}, "run_batch": 16,
             "run_images": 512, "run_minutes": 0.1, "samples": 64, "repeats": 3,
             "hybrid_width": 1 / 32},
}
REAL_SAMPLES = 10000
FASHION_MNIST_SIZE = 32  # 28 -> 32, background -1 (vitgan_tf.images.center_padding)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python bench/gpu_check.py", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--out", help="folder for gpu_check.json and the samples (JAX backend)")
    mode.add_argument("--kid", metavar="OUT",
                      help="KID / FID of OUT's samples (TensorFlow backend, after the check)")
    parser.add_argument("--tiny", action="store_true", help="tiny models and budgets (CPU, CI)")
    parser.add_argument("--run-minutes", type=float,
                        help="training minutes of each timed run (default 2.5; tiny 0.1)")
    parser.add_argument("--data-dir", help="Fashion-MNIST IDX files (default: vitgan_tf.sources')")
    return parser.parse_args(argv)


def error(message):
    print(f"error: {message}", file=sys.stderr)
    return 2


# === The check (JAX) ===


class StepTimer(keras.callbacks.Callback):
    """Each step's seconds and losses; stops `fit` after `seconds` of steps.

    Each step is synchronised (its losses read as floats), so the times are
    device times, not dispatch times. The first (compiling) step does not
    count towards `seconds`.
    """

    def __init__(self, seconds=None):
        super().__init__()
        self.seconds, self.times, self.logs = seconds, [], []
        self._start = None

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append({k: float(v) for k, v in (logs or {}).items()})
        self.times.append(time.perf_counter() - self._start)
        if self.seconds is not None and sum(self.times[1:]) >= self.seconds:
            self.model.stop_training = True


def build_gan(model, discriminator=None, gan_kwargs=None, width=1.0):
    """A compiled (XLA) ViTGAN of preset `model["preset"]` with overrides; D from a
    `TIMED_RUNS` entry (default the paper's: L2 attention, ISN). Built by the run driver's
    own `vitgan_tf.training.config.build_gan` (backend-neutral), seed 0."""
    from recipes import get_config  # noqa: PLC0415
    from vitgan_tf.training import config as config_lib  # noqa: PLC0415

    keras.utils.set_random_seed(0)
    model = dict(model)
    preset = model.pop("preset")
    spec = dict(discriminator or TIMED_RUNS["full"])
    if spec["architecture"] == "stylegan2":
        spec.update(width_multiplier=width,
                    **{k: v for k, v in model.items() if k in ("image_size", "channels")})
    else:
        spec["attention"] = "l2"
    gan_kwargs = gan_kwargs if gan_kwargs is not None else get_config("fashion_mnist")["gan"]
    config = config_lib.merge(config_lib.base_config(), {
        "seed": 0, "model": {"preset": preset, "shared": model, "discriminator": spec},
        "gan": gan_kwargs, "train": {"jit_compile": True}})
    return config_lib.build_gan(config)


def finite(timer):
    return bool(all(np.isfinite(v) for logs in timer.logs for v in logs.values()))


def train_step_speed(size, policy, rng):
    keras.mixed_precision.set_global_policy(policy)
    try:
        gan = build_gan({"preset": size["preset"]})
        shape = (gan.generator.image_size, gan.generator.image_size, gan.generator.channels)
        batch, steps = size["batch"], size["steps"]
        images = rng.uniform(-1, 1, (batch * (steps + 1),) + shape).astype("float32")
        timer = StepTimer()
        gan.fit(images, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=[timer])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    median = float(np.median(timer.times[1:]))
    return {"policy": policy, "preset": size["preset"], "batch": batch,
            "timed_steps": len(timer.times) - 1, "compile_seconds": round(timer.times[0], 2),
            "median_step_seconds": round(median, 5), "images_per_second": round(batch / median, 1),
            "losses_finite": finite(timer)}


def inference_speed(generator, batches, repeats, rng):
    """images/s of one compiled `training=False` call per batch size."""
    import jax  # noqa: PLC0415

    trainable = [v.value for v in generator.trainable_variables]
    non_trainable = [v.value for v in generator.non_trainable_variables]
    call = jax.jit(lambda t, n, z: generator.stateless_call(t, n, z, training=False)[0])
    result = {}
    for batch in batches:
        z = rng.normal(size=(batch, generator.z_dim)).astype("float32")
        start = time.perf_counter()
        call(trainable, non_trainable, z).block_until_ready()
        compile_seconds = time.perf_counter() - start
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call(trainable, non_trainable, z).block_until_ready()
            times.append(time.perf_counter() - start)
        median = float(np.median(times))
        result[str(batch)] = {"compile_seconds": round(compile_seconds, 2),
                              "median_seconds": round(median, 5),
                              "images_per_second": round(batch / median, 1)}
    return result


def fashion_mnist(data_dir=None):
    """Fashion-MNIST training images, float32 [60000, 32, 32, 1] in [-1, 1], padded."""
    from vitgan_tf.sources import load_fashion_mnist  # noqa: PLC0415

    from vitgan_tf.images import pad_to_size  # noqa: PLC0415

    images = load_fashion_mnist("train", data_dir).astype("float32") / 127.5 - 1.0
    return pad_to_size(images, FASHION_MNIST_SIZE, background=-1.0)  # as vitgan_tf.data


def timed_run(size, variant, images, minutes, out):
    """Trains one variant for `minutes`; writes its samples; returns its record."""
    from vitgan_tf.images import to_uint8  # noqa: PLC0415

    gan = build_gan(size["run_model"], TIMED_RUNS[variant], width=size["hybrid_width"])
    batch = size["run_batch"]
    timer = StepTimer(seconds=minutes * 60.0)
    epochs = 10**6 // max(1, len(images) // batch)
    gan.fit(images, batch_size=batch, epochs=epochs, shuffle=True, verbose=0, callbacks=[timer])
    steps = len(timer.times)
    train_seconds = sum(timer.times)
    rng = np.random.default_rng(0)
    samples = []
    for start in range(0, size["samples"], 500):
        z = rng.normal(size=(min(500, size["samples"] - start), gan.z_dim)).astype("float32")
        samples.append(to_uint8(gan.ema_generator.predict_on_batch(z)))
    path = os.path.join(out, f"samples_{variant}.npz")
    np.savez_compressed(path, images=np.concatenate(samples))
    last = timer.logs[-1]
    return {"variant": variant, "discriminator": TIMED_RUNS[variant], "batch": batch,
            "steps": steps, "train_seconds": round(train_seconds, 1),
            "compile_seconds": round(timer.times[0], 2),
            "images_per_second": round(batch * (steps - 1) / max(sum(timer.times[1:]), 1e-9), 1),
            "images_seen": steps * batch, "losses_finite": finite(timer),
            "final": {k: round(last[k], 4) for k in ("d_loss", "g_loss", "d_real", "d_fake")},
            "samples": os.path.basename(path)}


def environment():
    import jax  # noqa: PLC0415
    device = jax.devices()[0]
    return {"backend": keras.backend.backend(), "platform": device.platform,
            "device": getattr(device, "device_kind", str(device)), "devices": jax.device_count(),
            "python": platform.python_version(), "jax": jax.__version__,
            "keras": keras.__version__, "numpy": np.__version__}


def check(args):
    if keras.backend.backend() != "jax":
        return error(f"the check runs on Keras' JAX backend (KERAS_BACKEND=jax); Keras runs on "
                     f"{keras.backend.backend()!r}")
    from vitgan_tf.io import check_output_folder  # noqa: PLC0415

    try:
        check_output_folder(args.out)
    except NotADirectoryError as problem:
        return error(str(problem))
    size = SIZES["tiny" if args.tiny else "gpu"]
    minutes = args.run_minutes if args.run_minutes is not None else size["run_minutes"]
    if not 0 < minutes <= 60:  # also refuses nan
        return error(f"--run-minutes must be > 0 and <= 60. Received: {minutes}")
    from vitgan_tf.sources import FASHION_MNIST_DIR, FASHION_MNIST_FILES  # noqa: PLC0415

    data_dir = args.data_dir or os.environ.get("VITGAN_TF_FASHION_MNIST_DIR", FASHION_MNIST_DIR)
    path = os.path.join(data_dir, FASHION_MNIST_FILES["train"])
    if not os.path.isfile(path):  # no download: the GPU machine has no network
        return error(f"{path} not found: give --data-dir, a folder with Fashion-MNIST's "
                     f"{FASHION_MNIST_FILES['train']} (bench/README.md)")
    images = fashion_mnist(data_dir)[:size["run_images"]]
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    result = {"mode": "tiny" if args.tiny else "gpu", "environment": environment()}
    print(f"device: {result['environment']['device']} ({result['environment']['platform']}), "
          f"keras {keras.__version__}, jax {result['environment']['jax']}", flush=True)
    result["train_step"] = []
    for policy in ("float32", "mixed_bfloat16"):
        result["train_step"].append(train_step_speed(size, policy, rng))
        print(f"train step {policy}: {result['train_step'][-1]}", flush=True)
    gan = build_gan({"preset": size["preset"]})
    result["inference"] = inference_speed(gan.ema_generator, size["inference"], size["repeats"], rng)
    print(f"inference: {result['inference']}", flush=True)
    result["inception"] = {"run": False, "why": "weights (95 MB) exceed the 64 MiB carried; "
                                                "FID code needs TensorFlow: see --kid"}
    result["timed_runs"] = []
    for variant in TIMED_RUNS:
        result["timed_runs"].append(timed_run(size, variant, images, minutes, args.out))
        print(f"timed run {variant}: {result['timed_runs'][-1]}", flush=True)
    result["wall_seconds"] = round(time.perf_counter() - start, 1)
    with open(os.path.join(args.out, "gpu_check.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(table(result))
    return 0


def table(result):
    env = result["environment"]
    lines = [f"gpu_check ({result['mode']}) on {env['device']} ({env['platform']}), "
             f"Keras {env['keras']} on {env['backend']} (jax {env['jax']}), "
             f"{result['wall_seconds']} s wall", "",
             "| check | setting | images/s | finite losses |", "| --- | --- | ---: | --- |"]
    for r in result["train_step"]:
        lines.append(f"| train step, {r['preset']} | {r['policy']}, batch {r['batch']} | "
                     f"{r['images_per_second']} | {r['losses_finite']} |")
    for batch, r in result["inference"].items():
        lines.append(f"| G inference | batch {batch} | {r['images_per_second']} | - |")
    for r in result["timed_runs"]:
        lines.append(f"| timed run, {r['variant']} | {r['steps']} steps in {r['train_seconds']} s, "
                     f"batch {r['batch']}; d_loss {r['final']['d_loss']} | "
                     f"{r['images_per_second']} | {r['losses_finite']} |")
    return "\n".join(lines)


# === KID afterwards (TensorFlow) ===


def kid(folder):
    if keras.backend.backend() != "tensorflow":
        return error("--kid runs on TensorFlow (the Inception network); unset KERAS_BACKEND")
    path = os.path.join(folder, "gpu_check.json")
    if not os.path.isfile(path):
        return error(f"{path} not found: run the check first (--out {folder})")
    with open(path) as f:
        result = json.load(f)
    from vitgan_tf.metrics.evaluation import (  # noqa: PLC0415
        array_batches, collect_statistics, compute_metrics, reference_statistics)
    from vitgan_tf.metrics.inception import InceptionFeatureExtractor  # noqa: PLC0415

    tiny = result["mode"] == "tiny"
    # Tiny: as many real images as each run has samples (64), the fewest KID takes, in one
    # batch (one traced forward pass); its reference is computed afresh on every CI run.
    size = SIZES["tiny" if tiny else "gpu"]
    batch = size["samples"] if tiny else 50
    extractor = InceptionFeatureExtractor(batch_size=batch)
    real = reference_statistics("fashion_mnist", "train", image_size=32,
                                num_samples=size["samples"] if tiny else REAL_SAMPLES,
                                kid_samples=size["samples"], extractor=extractor, batch_size=batch)
    for run in result["timed_runs"]:
        with np.load(os.path.join(folder, run["samples"])) as archive:
            samples = archive["images"]
        fake = collect_statistics(array_batches(samples, batch), extractor, len(samples),
                                  kid_samples=len(samples), label=run["variant"])
        run["metrics"] = compute_metrics(real, fake, ("fid", "kid"))
        print(f"{run['variant']}: {run['metrics']}", flush=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    return 0


def main(argv=None):
    args = parse_args(argv)
    return kid(args.kid) if args.kid else check(args)


if __name__ == "__main__":
    sys.exit(main())
