"""Training speed of the series' three trained models under TensorFlow's CPU kernel sets.

TensorFlow 2.21 turns its oneDNN kernels on by itself only on some x86 CPUs (those with
AVX-512 VNNI and newer: recent Intel, AMD Zen 4); on most AMD and older Intel CPUs the
default Eigen kernels run. This script times, each in a fresh subprocess:

* ``eigen``: ``TF_ENABLE_ONEDNN_OPTS=0``, what most AMD and older Intel laptops run;
* ``onednn_avx2``: oneDNN forced on but limited to AVX2 (``ONEDNN_MAX_CPU_ISA=AVX2``), what
  forcing it on gives such a CPU (the Eigen kernels of the TensorFlow wheel use no AVX-512, so
  the first two rows stand for a CPU without AVX-512 on any machine);
* ``onednn_native``: oneDNN on with every instruction set of this CPU.

For each: optimizer steps per second of the VQ-VAE (``models.DEFAULT_CONFIG`` on
``training.DEFAULT_TRAINING`` crops), the PixelCNN prior (``prior.DEFAULT_PRIOR`` on 64 x 64
code grids) and the blind-spot model (``blind_spot.DEFAULT_BLIND_SPOT``), as images or grids per
second after a warm-up. For the blind-spot model it also times the model with its hole
convolutions as ``tf.nn.conv2d`` with ``dilations`` (oneDNN only; ``null`` where the kernels
lack it), and that op against ``blind_spot.dilated_same_conv`` (any kernels), forward and
backward, for the shapes of its dilated rings.

Usage::

    .venv/bin/python benchmarks/cpu_kernels.py --out benchmarks/results/cpu_kernels.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

KERNEL_SETS = {
    "eigen": {"TF_ENABLE_ONEDNN_OPTS": "0"},
    "onednn_avx2": {"TF_ENABLE_ONEDNN_OPTS": "1", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "onednn_native": {"TF_ENABLE_ONEDNN_OPTS": "1"},
}

_MEASURE = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import tensorflow as tf
    import keras
    from oasis_helpers import blind_spot, models, prior, training

    steps = int(sys.argv[1])
    rng = np.random.default_rng(0)
    report = {}

    def per_second(run, count, items):
        run(2)  # warm-up: tracing and the first steps
        start = time.perf_counter()
        run(count)
        return items * count / (time.perf_counter() - start)

    batch = training.DEFAULT_TRAINING["batch_size"]
    crop = training.DEFAULT_TRAINING["crop_size"]
    vqvae = models.make_vqvae(learning_rate=2e-3)
    crops = tf.data.Dataset.from_tensors(
        rng.uniform(0, 1, (batch, crop, crop, 1)).astype(np.float32)
    ).repeat()
    report["vqvae_crops_per_second"] = per_second(
        lambda n: vqvae.fit(crops, steps_per_epoch=n, epochs=1, verbose=0), steps, batch
    )

    grids = rng.integers(0, 256, (64, 64, 64)).astype(np.int32)
    heights = rng.uniform(0, 1, 64).astype(np.float32)
    batch = prior.DEFAULT_PRIOR_TRAINING["batch_size"]
    pixelcnn = prior.make_prior(num_embeddings=256)
    codes = prior.make_code_dataset(grids, heights, batch_size=batch)
    report["prior_grids_per_second"] = per_second(
        lambda n: pixelcnn.fit(codes, steps_per_epoch=n, epochs=1, verbose=0), steps, batch
    )

    config = blind_spot.configuration({})
    batch = config["batch_size"]
    model = blind_spot.make_blind_spot_model(
        256, 64, **{name: config[name] for name in blind_spot.MODEL_SETTINGS}
    )
    inputs = tf.data.Dataset.from_tensors(
        ((grids[:batch], heights[:batch, None]), grids[:batch])
    ).repeat()
    report["blind_spot_grids_per_second"] = per_second(
        lambda n: model.fit(inputs, steps_per_epoch=n, epochs=1, verbose=0), steps, batch
    )

    # the same model with the layer as it was: tf.nn.conv2d with dilations (oneDNN only)
    def dilated_conv2d_call(self, inputs):
        kernel = self.kernel * tf.constant(self._mask, dtype=self.kernel.dtype)
        outputs = tf.nn.conv2d(inputs, kernel, 1, "SAME", dilations=self.dilation)
        return outputs + self.bias

    blind_spot.HoleConv2D.call, current_call = dilated_conv2d_call, blind_spot.HoleConv2D.call
    try:
        model = blind_spot.make_blind_spot_model(
            256, 64, **{name: config[name] for name in blind_spot.MODEL_SETTINGS}
        )
        report["blind_spot_conv2d_dilated_grids_per_second"] = per_second(
            lambda n: model.fit(inputs, steps_per_epoch=n, epochs=1, verbose=0), steps, batch
        )
    except tf.errors.InvalidArgumentError:
        report["blind_spot_conv2d_dilated_grids_per_second"] = None  # no such gradient here
    finally:
        blind_spot.HoleConv2D.call = current_call

    features = tf.constant(rng.normal(size=(batch, 64, 64, config["embedding_dim"])), tf.float32)
    for dilation in config["dilations"][1:]:
        shape = [7, 7, config["embedding_dim"], config["filters"] // 2]
        kernel = tf.Variable(tf.random.normal(shape))
        for name, convolve in [
            ("conv2d_dilated", lambda x, k: tf.nn.conv2d(x, k, 1, "SAME", dilations=dilation)),
            ("dilated_same_conv", lambda x, k: blind_spot.dilated_same_conv(x, k, dilation)),
        ]:
            @tf.function
            def step():
                with tf.GradientTape() as tape:
                    tape.watch(features)
                    loss = tf.reduce_sum(convolve(features, kernel) ** 2)
                return tape.gradient(loss, [features, kernel])
            try:
                report[f"ring_d{dilation}_{name}_ms"] = 1000 / per_second(
                    lambda n: [step() for _ in range(n)][-1][0].numpy(), 10, 1
                )
            except tf.errors.InvalidArgumentError:
                report[f"ring_d{dilation}_{name}_ms"] = None  # no such kernel here
    print(json.dumps(report))
    """
)


def measure(kernel_set: str, steps: int) -> dict:
    """Run the measurement in a subprocess with ``kernel_set``'s environment."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **KERNEL_SETS[kernel_set]}
    if kernel_set != "onednn_avx2":
        environment.pop("ONEDNN_MAX_CPU_ISA", None)
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(steps)],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{kernel_set} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return sorted(flag for flag in line.split()[2:] if flag.startswith("avx"))
    except OSError:
        pass
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model")
    parser.add_argument("--kernel-sets", nargs="+", default=list(KERNEL_SETS))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cpu_kernels.json"))
    args = parser.parse_args(argv)
    from oasis_helpers import runs

    report = {
        "cpu": runs.cpu_model(),
        "cpu_avx_flags": cpu_flags(),
        "cores": os.cpu_count(),
        "steps": args.steps,
        "kernel_sets": {name: KERNEL_SETS[name] for name in args.kernel_sets},
        "results": {},
    }
    for name in args.kernel_sets:
        report["results"][name] = measure(name, args.steps)
        print(name, json.dumps(report["results"][name]), flush=True)
    runs.write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
