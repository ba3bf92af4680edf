"""plots.training_curves: the history figure, and the live plot redrawn by training.fit."""

from __future__ import annotations

import oasis_fixtures as fx

from oasis_helpers import plots, training


def test_history_figure_and_live_plot(tmp_path, disks):
    import matplotlib

    matplotlib.use("Agg")
    history = {
        "loss": [0.1, 0.05],
        "val_loss": [0.12, 0.06],
        "batch_perplexity": [3.0, 5.0],
        "learning_rate": [1e-3, 1e-4],
    }
    figure = plots.plot_history(history)
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == ["total loss", "perplexity (mean over batches)", "learning rate"]
    assert len(figure.axes[0].lines) == 2  # train and validation
    # the live plot redraws after every epoch and keeps the earlier history
    live = plots.LivePlot(previous={"loss": [0.2]})
    training.fit(
        fx.training_vqvae(), fx.batches(disks), tmp_path, epochs=2, verbose=0, callbacks=[live]
    )
    assert len(live.history["loss"]) == 3
