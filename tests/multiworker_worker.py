"""One worker of the two-process training in ``tests/test_distributed.py``.

Run as ``python tests/multiworker_worker.py --index I --ports P0,P1 --run-dir DIR
--result FILE [...]``: it joins a cluster of ``len(ports)`` workers on 127.0.0.1
(``TF_CONFIG``), trains a tiny VQ-VAE in graph mode through
``oasis_helpers.training.fit`` and writes what happened to ``FILE`` (JSON) and the
final weights to ``FILE.npz``.

Options that make the test able to fail:

* ``--clock-step S``: every worker's ``TimeBudget`` clock is a fake one that
  advances ``S`` seconds per reading on the chief and 1000 times as fast on the
  other workers. A worker that used its own clock would stop at its first step
  and leave the chief waiting in a collective; with the chief's clock every
  worker stops at the same, reproducible step.
* ``--worker-stops-after-epoch E``: a callback on the non-chief workers only asks
  to stop after epoch ``E`` (0-based), as a divergent early-stopping decision would;
  the chief's decision must win.
"""

from __future__ import annotations

import argparse
import atexit
import itertools
import json
import os
import sys
from pathlib import Path

TINY = {
    "image_size": 16,
    "channels": (8, 16),
    "num_residual_blocks": 1,
    "residual_channels": 8,
    "num_embeddings": 16,
    "embedding_dim": 4,
    # restarts after 2 unused steps, so that restarts happen in a few steps
    "dead_code_steps": 2,
}
GLOBAL_BATCH = 8
STEPS_PER_EPOCH = 3


def _arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--ports", required=True, help="comma-separated ports, one per worker")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-train-minutes", type=float, default=None)
    parser.add_argument("--clock-step", type=float, default=None)
    parser.add_argument("--worker-stops-after-epoch", type=int, default=None)
    return parser.parse_args(argv)


def _fake_clock(step: float):
    readings = itertools.count()
    return lambda: step * next(readings)


def _images(count: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:16, :16]
    disk = ((rows - 8) ** 2 + (cols - 8) ** 2 < 30).astype(np.float32)
    return (disk * rng.uniform(0.3, 0.9, (count, 16, 16)))[..., None].astype(np.float32)


def main(argv=None) -> int:
    args = _arguments(argv)
    ports = args.ports.split(",")
    os.environ["TF_CONFIG"] = json.dumps(
        {
            "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
            "task": {"type": "worker", "index": args.index},
        }
    )
    from oasis_helpers import runs

    strategy, _ = runs.select_strategy(mixed_precision=False)  # before any other TF work

    import keras
    import numpy as np
    import tensorflow as tf

    from oasis_helpers import callbacks, distributed, models, training

    chief = distributed.is_chief(strategy)
    if args.clock_step is not None:
        step = args.clock_step if chief else 1000.0 * args.clock_step
        callbacks.TimeBudget.clock = staticmethod(_fake_clock(step))

    extra = []
    if args.worker_stops_after_epoch is not None and not chief:
        stop_after = args.worker_stops_after_epoch

        class StopHereOnly(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if epoch >= stop_after:
                    self.model.stop_training = True

        extra.append(StopHereOnly())

    runs.seed_everything(0)
    model = models.make_vqvae(strategy, learning_rate=2e-3, **TINY)
    train_data = tf.data.Dataset.from_tensor_slices(_images(32, 0)).repeat().batch(GLOBAL_BATCH)
    validation_data = tf.data.Dataset.from_tensor_slices(_images(8, 1)).batch(GLOBAL_BATCH)
    result = training.fit(
        model,
        train_data,
        args.run_dir,
        epochs=args.epochs,
        validation_data=validation_data,
        steps_per_epoch=STEPS_PER_EPOCH,
        batch_size=GLOBAL_BATCH,
        max_train_minutes=args.max_train_minutes,
        verbose=0,
        tensorboard=False,
        callbacks=extra,
        settings={"global_batch": GLOBAL_BATCH, "steps_per_epoch": STEPS_PER_EPOCH},
    )
    written = sorted(
        str(path.relative_to(result.run_dir)) for path in Path(result.run_dir).rglob("*")
    )
    report = {
        "chief": chief,
        "replicas": strategy.num_replicas_in_sync,
        "run_dir": str(result.run_dir),
        "written": written,
        "stopped_by": result.stopped_by,
        "epochs_completed": result.epochs_completed,
        "initial_epoch": result.initial_epoch,
        "partial_epoch_steps": result.extra.get("partial_epoch_steps"),
        "optimizer_steps": int(model.optimizer.iterations.numpy()),
        "dead_codes_restarted": int(model.quantizer.dead_codes_restarted),
    }
    weights = {
        f"{number:03d} {weight.path.replace('/', ':')}": np.asarray(weight)
        for number, weight in enumerate(model.weights)
    }
    np.savez(args.result + ".npz", **weights)
    Path(args.result).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    code = main()
    # Run the atexit handlers (they delete a non-chief's private run folder, which the test
    # checks), then leave without TensorFlow's interpreter teardown: its multi-worker
    # coordination service takes about 6 s to shut down and adds nothing to the test.
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)
