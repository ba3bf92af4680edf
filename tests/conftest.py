"""Shared pytest set-up: quiet TensorFlow logs before anything imports it; the figure tests'
fixture."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def close_figures():
    """Draw with matplotlib's Agg backend (no window) and close every figure the test drew."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")
