"""Bad notebook parameters get a clear error before any work (oasis_helpers.parameters).

One case per rule (:data:`BAD_VALUES`): each error names the parameter, its value and the
allowed range.
"""

from __future__ import annotations

import pytest

from oasis_helpers import parameters
from oasis_helpers.parameters import ParameterError


def _error(**values) -> str:
    with pytest.raises(ParameterError) as caught:
        parameters.check(**values)
    assert isinstance(caught.value, ValueError)
    return str(caught.value)


def test_good_parameters_pass_and_come_back_checked():
    checked = parameters.check(
        replicas=2,
        image_size=256,
        crop_size=128,
        downsample=4,
        batch_size=16,
        num_embeddings=256,
        embedding_dim=16,
        commitment_cost=0.25,
        quantizer="ema",
        ema_decay=0.95,
        learning_rate=2e-3,
        epochs=20.0,
        steps_per_epoch=100,
        validation_slices=96,
        max_train_minutes=8.5,
        dead_code_steps=20,
        seed=42,
    )
    assert checked["epochs"] == 20 and isinstance(checked["epochs"], int)
    assert checked["crop_size"] == 128
    optional = parameters.check(crop_size=None, max_train_minutes=None, dead_code_steps=None)
    assert optional == {"crop_size": None, "max_train_minutes": None, "dead_code_steps": None}


#: One bad value (or pair) per rule, and what its error must say: the parameter, its value
#: and the allowed range.
BAD_VALUES = [
    (
        "crop larger than the image",
        {"image_size": 256, "crop_size": 512},
        ["crop_size = 512", "image_size (256)"],
    ),
    (
        "crop of a small image",
        {"image_size": 64, "crop_size": 128},
        ["crop_size = 128", "8 to image_size (64)"],
    ),
    (
        "crop not a multiple of downsample",
        {"image_size": 256, "downsample": 4, "crop_size": 102},
        ["crop_size = 102", "multiple of downsample (4)"],
    ),
    (
        "downsample not a power of two",
        {"image_size": 256, "downsample": 3},
        ["downsample = 3", "power of two"],
    ),
    (
        "downsample that does not divide the image",
        {"image_size": 100, "downsample": 8},
        ["downsample = 8", "100"],
    ),
    (
        "batch not split by the replicas",
        {"batch_size": 6, "replicas": 4},
        ["batch_size = 6", "multiple of the 4 replicas"],
    ),
    ("batch below one", {"batch_size": 0}, ["batch_size = 0", "from 1 to"]),
    ("codebook below two", {"num_embeddings": 0}, ["num_embeddings = 0", "from 2 to 65,536"]),
    ("absurd codebook", {"num_embeddings": 10_000_000}, ["num_embeddings = 10000000", "65,536"]),
    ("code size below one", {"embedding_dim": 0}, ["embedding_dim = 0", "from 1 to 4,096"]),
    ("fractional code size", {"embedding_dim": 2.5}, ["embedding_dim = 2.5"]),
    (
        "patch that is not the code size",
        {"patch_size": 4, "embedding_dim": 8},
        ["embedding_dim = 8", "patch_size**2 = 16"],
    ),
    ("negative commitment cost", {"commitment_cost": -0.1}, ["commitment_cost = -0.1", ">= 0"]),
    ("learning rate not positive", {"learning_rate": 0}, ["learning_rate = 0", "> 0"]),
    ("learning rate not finite", {"learning_rate": float("nan")}, ["learning_rate = nan"]),
    ("epochs below one", {"epochs": 0}, ["epochs = 0", ">= 1"]),
    ("a boolean is not a number", {"epochs": True}, ["epochs = True"]),
    ("steps per epoch below one", {"steps_per_epoch": 0}, ["steps_per_epoch = 0"]),
    ("unknown quantizer", {"quantizer": "kmeans"}, ["quantizer = 'kmeans'", "'ema'", "'standard'"]),
    ("validation slices below one", {"validation_slices": 0}, ["validation_slices = 0", ">= 1"]),
    ("time budget not positive", {"max_train_minutes": 0}, ["max_train_minutes = 0", "> 0"]),
    ("image too small", {"image_size": 4}, ["image_size = 4", ">= 8"]),
    ("absurd image", {"image_size": 100_000}, ["image_size = 100000", "from 8 to 4,096"]),
    ("sweep size below two", {"sweep_sizes": [16, 1]}, ["sweep_sizes = 1"]),
    ("even PixelCNN kernel", {"kernel_size": 4}, ["kernel_size = 4", "odd integer from 3 to 63"]),
    ("sampling temperature not positive", {"temperature": 0}, ["temperature = 0"]),
    ("negative top-k", {"top_k": -1}, ["top_k = -1", "from 0 to 65,536"]),
    ("conditional not a boolean", {"conditional": "yes"}, ["conditional = 'yes'"]),
    ("no restorations", {"max_restorations": 0}, ["max_restorations = 0"]),
    ("median filter too large", {"median_size": 100}, ["median_size = 100"]),
    ("no test slices", {"test_slices": 0}, ["test_slices = 0"]),
    ("blind-spot hole too large", {"blind_spot_hole": 6}, ["blind_spot_hole = 6"]),
    ("no blind-spot epochs", {"blind_spot_epochs": 0}, ["blind_spot_epochs = 0"]),
]


@pytest.mark.parametrize(
    ("values", "expected"),
    [pytest.param(values, expected, id=name) for name, values, expected in BAD_VALUES],
)
def test_a_bad_value_is_refused_naming_it_and_what_is_allowed(values, expected):
    message = _error(**values)
    for part in expected:
        assert part in message


@pytest.mark.parametrize("decay", [0.0, 1.0, 1.5, -0.2])
def test_ema_decay_outside_the_open_interval(decay):
    message = _error(ema_decay=decay)
    assert f"ema_decay = {decay!r}" in message and "strictly between 0 and 1" in message


def test_a_misspelt_parameter_is_refused():
    with pytest.raises(TypeError, match="num_embedings"):
        parameters.check(num_embedings=256)


@pytest.mark.parametrize("fraction", [0, 1.5, float("nan")])
def test_lesion_fraction_outside_zero_to_one(fraction):
    message = _error(lesion_fraction=fraction)
    assert "lesion_fraction" in message and "(0, 1]" in message


@pytest.mark.parametrize("quantiles", [[], [0.0], [0.01, 1.0], "0.01"])
def test_flag_quantiles_must_be_open_unit_interval(quantiles):
    message = _error(flag_quantiles=quantiles)
    assert "flag_quantiles" in message and "strictly between 0 and 1" in message


@pytest.mark.parametrize("quantile", [0, 1, 1.5, float("nan"), True])
def test_restoration_quantile_must_be_open_unit_interval(quantile):
    message = _error(restoration_quantile=quantile)
    assert "restoration_quantile" in message and "strictly between 0 and 1" in message


def test_notebook_05s_optional_dilation_and_quantiles_come_back_checked():
    checked = parameters.check(flag_dilation=None, flag_quantiles=(0.01, 0.1))
    assert checked == {"flag_dilation": None, "flag_quantiles": [0.01, 0.1]}


def test_check_notebook_reads_the_notebooks_parameters_by_name():
    names = parameters.NOTEBOOK_PARAMETERS["01_data_loader"]
    namespace = {"image_size": 64, "batch_size": 8.0, "slices_per_volume": 4, "seed": 1}
    namespace.update(data_dir=None, parameters=parameters)  # other variables are left alone
    checked = parameters.check_notebook("01_data_loader", namespace)
    assert checked == {"image_size": 64, "batch_size": 8, "slices_per_volume": 4, "seed": 1}
    assert tuple(checked) == names
    with pytest.raises(ParameterError, match="batch_size = 6"):
        parameters.check_notebook("01_data_loader", dict(namespace, batch_size=6), replicas=4)
    with pytest.raises(KeyError, match=r"has no \['seed'\]"):
        parameters.check_notebook("01_data_loader", {k: namespace[k] for k in names[:3]})
    with pytest.raises(KeyError, match="no parameters are listed for notebook '09_x'"):
        parameters.check_notebook("09_x", namespace)


def test_restoration_score_is_one_of_the_scores():
    assert parameters.check(restoration_score="difference_rarity") == {
        "restoration_score": "difference_rarity"
    }
    message = _error(restoration_score="rarity_of_everything")
    assert "restoration_score = 'rarity_of_everything'" in message and "'zscore'" in message
