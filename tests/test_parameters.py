"""Bad notebook parameters get a clear error before any work (issue 7 item 6).

One test per rule: each error names the parameter, its value and the allowed range.
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


def test_crop_larger_than_the_image():
    message = _error(image_size=256, crop_size=512)
    assert "crop_size = 512" in message and "image_size (256)" in message


def test_crop_of_the_suggested_small_image():
    message = _error(image_size=64, crop_size=128)
    assert "crop_size = 128" in message and "8 to image_size (64)" in message


def test_downsample_not_a_power_of_two():
    message = _error(image_size=256, downsample=3)
    assert "downsample = 3" in message and "power of two" in message


def test_downsample_that_does_not_divide_the_image():
    message = _error(image_size=100, downsample=8)
    assert "downsample = 8" in message and "100" in message


def test_batch_not_divisible_by_the_replicas():
    message = _error(batch_size=6, replicas=4)
    assert "batch_size = 6" in message and "multiple of the 4 replicas" in message


def test_batch_below_one():
    message = _error(batch_size=0)
    assert "batch_size = 0" in message and "from 1 to" in message


def test_codebook_size_below_two():
    message = _error(num_embeddings=0)
    assert "num_embeddings = 0" in message and "from 2 to 65,536" in message


def test_absurd_codebook_size():
    message = _error(num_embeddings=10_000_000)
    assert "num_embeddings = 10000000" in message and "65,536" in message


def test_code_size_below_one():
    message = _error(embedding_dim=0)
    assert "embedding_dim = 0" in message and "from 1 to 4,096" in message


def test_fractional_code_size():
    assert "embedding_dim = 2.5" in _error(embedding_dim=2.5)


def test_negative_commitment_cost():
    message = _error(commitment_cost=-0.1)
    assert "commitment_cost = -0.1" in message and ">= 0" in message


def test_learning_rate_not_positive():
    message = _error(learning_rate=0)
    assert "learning_rate = 0" in message and "> 0" in message


def test_learning_rate_not_finite():
    assert "learning_rate = nan" in _error(learning_rate=float("nan"))


def test_epochs_below_one():
    message = _error(epochs=0)
    assert "epochs = 0" in message and ">= 1" in message


def test_unknown_quantizer():
    message = _error(quantizer="kmeans")
    assert "quantizer = 'kmeans'" in message and "'ema'" in message and "'standard'" in message


@pytest.mark.parametrize("decay", [0.0, 1.0, 1.5, -0.2])
def test_ema_decay_outside_the_open_interval(decay):
    message = _error(ema_decay=decay)
    assert f"ema_decay = {decay!r}" in message and "strictly between 0 and 1" in message


def test_validation_slices_below_one():
    message = _error(validation_slices=0)
    assert "validation_slices = 0" in message and ">= 1" in message


def test_time_budget_not_positive():
    message = _error(max_train_minutes=0)
    assert "max_train_minutes = 0" in message and "> 0" in message


def test_steps_per_epoch_below_one():
    assert "steps_per_epoch = 0" in _error(steps_per_epoch=0)


def test_image_size_too_small():
    message = _error(image_size=4)
    assert "image_size = 4" in message and ">= 8" in message


def test_absurd_image_size():
    message = _error(image_size=100_000)
    assert "image_size = 100000" in message and "from 8 to 4,096" in message


def test_crop_that_is_not_a_multiple_of_downsample():
    message = _error(image_size=256, downsample=4, crop_size=102)
    assert "crop_size = 102" in message and "multiple of downsample (4)" in message


def test_patch_that_is_not_the_code_size():
    message = _error(patch_size=4, embedding_dim=8)
    assert "embedding_dim = 8" in message and "patch_size**2 = 16" in message


def test_sweep_size_below_two():
    assert "sweep_sizes = 1" in _error(sweep_sizes=[16, 1])


def test_boolean_is_not_a_number():
    assert "epochs = True" in _error(epochs=True)


def test_a_misspelt_parameter_is_refused():
    with pytest.raises(TypeError, match="num_embedings"):
        parameters.check(num_embedings=256)


def test_even_pixelcnn_kernel():
    message = _error(kernel_size=4)
    assert "kernel_size = 4" in message and "odd integer from 3 to 63" in message


def test_sampling_temperature_not_positive():
    assert "temperature = 0" in _error(temperature=0)


def test_negative_top_k():
    message = _error(top_k=-1)
    assert "top_k = -1" in message and "from 0 to 65,536" in message


def test_conditional_is_a_boolean():
    assert "conditional = 'yes'" in _error(conditional="yes")


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


def test_notebook_05_counts_and_optional_dilation():
    assert "max_restorations = 0" in _error(max_restorations=0)
    assert "median_size = 100" in _error(median_size=100)
    assert "test_slices = 0" in _error(test_slices=0)
    assert "blind_spot_hole = 6" in _error(blind_spot_hole=6)
    assert "blind_spot_epochs = 0" in _error(blind_spot_epochs=0)
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
