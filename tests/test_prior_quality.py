"""prior.quality: timed samples, many samples in chunks and their quality against real slices,
on tiny priors, the block-mean stand-in VQ-VAE and a tiny untrained VQ-VAE."""

from __future__ import annotations

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import metrics, models, prior


class _Split:
    """A data split look-alike: ``len`` and ``float_images(indices)``."""

    def __init__(self, images):
        self.images = np.asarray(images, np.float32)

    def __len__(self):
        return len(self.images)

    def float_images(self, indices):
        return self.images[np.asarray(indices)]


def test_many_samples_are_drawn_in_chunks_each_with_its_own_seed():
    model = fx.peaked_prior(conditional=True)
    heights = np.linspace(0.1, 0.9, 5).astype(np.float32)
    codes = prior.sample_many(model, 5, 3, 4, heights, temperature=0.8, seed=10, chunk_size=2)
    # np.array_split(range(5), 5 // 2): grids 0-2 with seed 10, grids 3-4 with seed 11
    first = prior.sample_codes(model, 3, 3, 4, heights[:3], temperature=0.8, seed=10)
    second = prior.sample_codes(model, 2, 3, 4, heights[3:], temperature=0.8, seed=11)
    np.testing.assert_array_equal(codes, np.concatenate([first, second]))
    assert codes.shape == (5, 3, 4) and codes.dtype == np.int32
    one_chunk = prior.sample_many(model, 5, 3, 4, heights, temperature=0.8, seed=10)
    np.testing.assert_array_equal(
        one_chunk, prior.sample_codes(model, 5, 3, 4, heights, temperature=0.8, seed=10)
    )
    with pytest.raises(ValueError, match="one height per grid"):
        prior.sample_many(model, 5, 3, 4, heights[:4])
    with pytest.raises(ValueError, match="chunk_size"):
        prior.sample_many(model, 5, 3, 4, heights, chunk_size=0)


def test_timed_samples_are_the_samplers_codes_decoded_and_timed():
    model, vqvae = fx.peaked_prior(), fx.BlockVQVAE()
    samples = prior.timed_samples(model, vqvae, 3, 4, temperature=1.2, top_k=3, seed=5)
    expected = prior.sample_codes(model, 3, 4, 4, temperature=1.2, top_k=3, seed=5)
    np.testing.assert_array_equal(samples.codes, expected)
    np.testing.assert_array_equal(samples.images, vqvae.decode(expected))
    assert (samples.temperature, samples.top_k) == (1.2, 3)
    assert samples.seconds > 0 and samples.trace_seconds > 0


@pytest.fixture(scope="module")
def vqvae():
    import keras

    keras.utils.set_random_seed(0)
    return models.make_vqvae(**fx.TINY_VQVAE)


def test_sample_quality_measures_the_samples_against_the_real_slices(vqvae):
    rng = np.random.default_rng(0)
    rows, columns = np.mgrid[:32, :32]
    disc = np.hypot(rows - 16, columns - 16) < 12
    slices = (disc * rng.uniform(0.2, 0.9, (6, 32, 32)))[..., None].astype(np.float32)
    train, test = _Split(slices), _Split(slices[:3])
    generated = {
        "prior": vqvae.encode(slices[3:]),
        "uniform": rng.integers(0, 16, (3, 8, 8)).astype(np.int32),
    }
    quality = prior.sample_quality(vqvae, generated, test, train)
    assert list(quality.frechet) == ["prior", "uniform", "train_test"]
    assert quality.count == 3
    # the test slices are training slices too: each finds itself among them
    assert quality.nearest_test == pytest.approx(1.0, abs=1e-5)
    # with the test slices as the training slices, the floor is zero
    same = prior.sample_quality(vqvae, generated, test, test)
    assert same.frechet["train_test"] == pytest.approx(0.0, abs=1e-6)
    assert quality.frechet["train_test"] > 1e-5
    assert quality.diversity_test == metrics.mean_pairwise_ssim(slices[:3])
    decoded = vqvae.decode(generated["prior"])
    assert quality.diversity_samples == metrics.mean_pairwise_ssim(decoded)
    assert quality.nearest_samples == pytest.approx(
        float(metrics.nearest_ssim(decoded, slices).mean())
    )
    # two references, evenly spread (slices 0 and 5): test slices 1 and 2 no longer find
    # themselves
    fewer = prior.sample_quality(vqvae, generated, test, train, max_references=2)
    expected = metrics.nearest_ssim(slices[:3], slices[[0, 5]]).mean()
    assert fewer.nearest_test == pytest.approx(float(expected)) and fewer.nearest_test < 0.99
    with pytest.raises(ValueError, match="none of the generators"):
        prior.sample_quality(vqvae, generated, test, train, measured="context")
