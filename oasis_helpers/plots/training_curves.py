"""Training curves (notebooks 03 and 04): one panel per logged quantity, and the same
figure redrawn after every epoch while a notebook trains (:class:`LivePlot`).
"""

from __future__ import annotations

import keras
import numpy as np

from oasis_helpers.plots.figures import pyplot

#: Panels of :func:`plot_history`: (title, training key); ``val_`` + key is drawn too.
HISTORY_PANELS = (
    ("total loss", "loss"),
    ("reconstruction loss (MSE)", "reconstruction_loss"),
    ("quantizer loss", "quantizer_loss"),
    ("perplexity (mean over batches)", "batch_perplexity"),
    ("codebook usage (mean over batches)", "batch_codebook_usage"),
    ("learning rate", "learning_rate"),
)


def plot_history(history: dict[str, list[float]], figure=None):
    """Training curves (and validation curves where logged), one panel per quantity.

    Args:
        history: ``{key: [value per epoch]}`` (e.g. ``FitResult.history`` or
            ``training.read_history(run_dir)``); missing keys are skipped.
        figure: a matplotlib figure to draw into (cleared), or ``None`` for a new one.

    Returns:
        The matplotlib figure. Losses and the learning rate use a log scale.
    """
    import math

    plt = pyplot()
    panels = [(title, key) for title, key in HISTORY_PANELS if history.get(key)]
    figure = figure or plt.figure(figsize=(4 * min(3, max(1, len(panels))), 6))
    figure.clear()
    columns = 3
    rows = max(1, math.ceil(len(panels) / columns))
    for index, (title, key) in enumerate(panels):
        axis = figure.add_subplot(rows, columns, index + 1)
        values = history[key]
        epochs = np.arange(1, len(values) + 1)
        axis.plot(epochs, values, marker=".", label="train")
        if history.get(f"val_{key}") and key != "learning_rate":
            axis.plot(epochs, history[f"val_{key}"], marker=".", label="validation")
            axis.legend(fontsize=8)
        if "loss" in key or key == "learning_rate":
            positive = [value for value in values if np.isfinite(value) and value > 0]
            if positive:
                axis.set_yscale("log")
        axis.set(title=title, xlabel="epoch")
    figure.tight_layout()
    return figure


class LivePlot(keras.callbacks.Callback):
    """Redraw :func:`plot_history` in a notebook after every epoch (live training curves).

    ``previous`` is the history of earlier calls (e.g. ``training.read_history(run_dir)``),
    so that a resumed run shows its whole past. Needs IPython; use it only in an
    interactive session (a headless run gets the static figure after training).
    """

    def __init__(self, previous: dict[str, list[float]] | None = None):
        super().__init__()
        self.history = {key: list(values) for key, values in (previous or {}).items()}
        self._figure = None
        self._handle = None

    def on_epoch_end(self, epoch, logs=None):
        from IPython.display import display

        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if self._figure is None:
            self._figure = pyplot().figure(figsize=(12, 6))
        plot_history(self.history, self._figure)
        if self._handle is None:
            self._handle = display(self._figure, display_id=True)
        else:
            self._handle.update(self._figure)

    def on_train_end(self, logs=None):
        if self._figure is not None:
            pyplot().close(self._figure)
