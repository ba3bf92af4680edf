"""Feeding a model: ``tf.data`` pipelines, augmentation, brain crops and patch samples.

Slices are stored as uint8 pixels (:class:`~oasis_helpers.data.SliceSplit`); every
function here that returns images converts them to float32 in ``[0, 1]``
(``pixels / 255``) per batch, so that no float copy of a whole split is ever made.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from oasis_helpers.data.containers import PIXEL_SCALE, SliceSplit, floats_from_pixels
from oasis_helpers.data.loading import check_image_size


def _check_batch_size(batch_size) -> int:
    """``batch_size`` as an int, or a ValueError naming it and its allowed range."""
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    return int(batch_size)


def augment_batch(images, masks, seed, max_shift: int = 8, intensity: float = 0.1):
    """Brain-plausible augmentation of a batch (stateless: the same seed, the same result).

    Per slice, independently:

    * a left-right flip with probability 1/2 (brains are nearly symmetric; never
      up-down, which no scanner produces);
    * a shift of ``dy, dx`` in ``[-max_shift, max_shift]`` pixels, zero filled:
      ``out[r, c] = in[r - dy, c' - dx]`` with ``c' = W - 1 - c`` when flipped;
    * an intensity curve ``clip(a * x ** g, 0, 1)`` with ``log g`` and ``a - 1``
      uniform in ``[-intensity, intensity]`` (the zero background stays zero).

    Args:
        images: float32 ``[B, H, W, C]`` in ``[0, 1]``.
        masks: uint8 ``[B, H, W]`` labels (moved exactly like the images) or ``None``.
        seed: int ``[2]`` tensor, the stateless seed of this batch.
        max_shift: the largest shift in pixels.
        intensity: the range of the log-gamma and of the contrast factor.

    Returns:
        ``images`` (or ``(images, masks)``), same shapes and dtypes.
    """
    import tensorflow as tf

    batch = tf.shape(images)[0]
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    seeds = tf.random.experimental.stateless_split(seed, num=5)
    flips = tf.random.stateless_uniform([batch], seeds[0]) < 0.5
    shift_y = tf.random.stateless_uniform(
        [batch], seeds[1], minval=-max_shift, maxval=max_shift + 1, dtype=tf.int32
    )
    shift_x = tf.random.stateless_uniform(
        [batch], seeds[2], minval=-max_shift, maxval=max_shift + 1, dtype=tf.int32
    )
    gamma = tf.exp(tf.random.stateless_uniform([batch, 1, 1, 1], seeds[3], -intensity, intensity))
    contrast = 1.0 + tf.random.stateless_uniform([batch, 1, 1, 1], seeds[4], -intensity, intensity)

    # Source row / column of every output pixel, per slice: [B, H] and [B, W].
    rows = tf.range(height)[None, :] - shift_y[:, None]
    columns = tf.range(width)[None, :]
    columns = tf.where(flips[:, None], width - 1 - columns, columns) - shift_x[:, None]
    row_valid = (rows >= 0) & (rows < height)
    column_valid = (columns >= 0) & (columns < width)
    rows = tf.clip_by_value(rows, 0, height - 1)
    columns = tf.clip_by_value(columns, 0, width - 1)
    inside = row_valid[:, :, None] & column_valid[:, None, :]  # [B, H, W]

    def move(tensor):
        # Gathering along axis 1 is fast; columns go through a transpose to use it too.
        tensor = tf.gather(tensor, rows, axis=1, batch_dims=1)
        order = [0, 2, 1] + list(range(3, tensor.shape.rank))
        tensor = tf.gather(tf.transpose(tensor, order), columns, axis=1, batch_dims=1)
        return tf.transpose(tensor, order)

    moved = move(images) * tf.cast(inside, images.dtype)[..., None]
    # x ** g as exp(g log x): far faster than tf.pow on CPU; zero stays zero.
    curved = tf.exp(gamma * tf.math.log(tf.maximum(moved, 1e-6)))
    moved = tf.where(moved > 0.0, tf.clip_by_value(contrast * curved, 0.0, 1.0), 0.0)
    if masks is None:
        return moved
    return moved, move(masks) * tf.cast(inside, masks.dtype)


def _gather_function(split: SliceSplit, with_masks: bool):
    """A graph function ``indices [B] -> pixels uint8 [B, H, W, 1] (, masks uint8 [B, H, W])``.

    The gather runs in NumPy on the split's own arrays (``tf.numpy_function``):
    converting them to a TensorFlow tensor instead would copy them (TensorFlow keeps more
    than the array's size for that copy), and notebooks 01-03 on the full OASIS PNG layout
    must stay below 4 GiB (``benchmarks/memory.py``,
    ``benchmarks/results/memory_full_layout.json``: ``notebooks.<stem>.peak_mib``).
    """
    import tensorflow as tf

    pixels, masks = split.pixels, split.masks
    size = int(pixels.shape[1])

    if with_masks:

        def take(indices):
            return pixels[indices], masks[indices]

        def gather(indices):
            batch_pixels, batch_masks = tf.numpy_function(
                take, [indices], (tf.uint8, tf.uint8), stateful=False
            )
            return (
                tf.ensure_shape(batch_pixels, [None, size, size, 1]),
                tf.ensure_shape(batch_masks, [None, size, size]),
            )

        return gather

    def take_pixels(indices):
        return pixels[indices]

    def gather_pixels(indices):
        batch = tf.numpy_function(take_pixels, [indices], tf.uint8, stateful=False)
        return tf.ensure_shape(batch, [None, size, size, 1])

    return gather_pixels


def to_float(pixels):
    """uint8 pixels (a tensor) to float32 images in ``[0, 1]``: ``pixels / 255``."""
    import tensorflow as tf

    return tf.cast(pixels, tf.float32) * PIXEL_SCALE


def make_dataset(
    split: SliceSplit,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 42,
    augment: bool = False,
    with_masks: bool = False,
    repeat: bool = False,
    drop_remainder: bool = False,
    max_shift: int | None = None,
    intensity_jitter: float = 0.1,
):
    """A ``tf.data`` pipeline over one in-memory split.

    Steps: indices ``0..N-1`` -> seeded shuffle (a new order every epoch, the
    same orders for the same seed) -> repeat -> batch the indices -> gather the
    batch's uint8 pixels (and masks) at once -> convert to float32
    ``pixels / 255`` -> optional augmentation (:func:`augment_batch`, seeded and
    stateless) -> ``prefetch(AUTOTUNE)``. Shuffling indices instead of images
    keeps memory flat (no shuffle buffer of images), gathering a whole batch in
    one op keeps the pipeline far faster than a model can train, and converting
    per batch means that only the batches in flight exist as float32. The split
    is already decoded and resized (what :func:`load_slices` does, in parallel),
    so caching would only copy it; :func:`make_file_dataset` is the streaming
    version that decodes PNG files in the pipeline and caches them.

    Args:
        split: a :class:`SliceSplit`.
        batch_size: slices per batch (>= 1).
        shuffle: shuffle with ``seed``.
        seed: seeds the shuffle and the augmentation.
        augment: flips, small shifts and intensity curves (training only).
        with_masks: yield ``(images, masks)``; masks uint8 ``[B, H, W]``.
        repeat: repeat forever (use ``steps_per_epoch``).
        drop_remainder: drop the last incomplete batch.
        max_shift: largest shift in pixels (default ``image_size // 32``).
        intensity_jitter: range of the log-gamma and of the contrast factor.

    Returns:
        A dataset of float32 ``[B, H, W, 1]`` images in ``[0, 1]`` (or pairs).
    """
    import tensorflow as tf

    batch_size = _check_batch_size(batch_size)
    if len(split) == 0:
        raise ValueError("cannot make a dataset from an empty split")
    if with_masks and split.masks is None:
        raise ValueError("with_masks=True but this split has no masks")
    shift = split.image_size // 32 if max_shift is None else int(max_shift)
    if shift < 0:
        raise ValueError(f"max_shift must be >= 0 pixels, got {max_shift}")
    gather = _gather_function(split, with_masks)

    dataset = tf.data.Dataset.range(len(split))
    if shuffle:
        dataset = dataset.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)

    def load(indices):
        if with_masks:
            pixels, masks = gather(indices)
            return to_float(pixels), masks
        return to_float(gather(indices))

    if augment:
        seeds = tf.data.Dataset.random(seed=seed).batch(2, drop_remainder=True)

        def transform(indices, pair):
            loaded = load(indices)
            images, masks = loaded if with_masks else (loaded, None)
            return augment_batch(images, masks, pair, shift, intensity_jitter)

        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
    else:
        dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def make_file_dataset(
    files: list[str],
    image_size: int,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 42,
    augment: bool = False,
    cache: bool | str = True,
    repeat: bool = False,
    drop_remainder: bool = False,
):
    """A streaming ``tf.data`` pipeline that decodes PNG files itself.

    Steps: file names -> read + ``decode_png`` (gray; RGB(A) converted) ->
    pad to a square and resize to ``image_size`` -> round to 8 bits, uint8
    ``[H, W, 1]`` (like :func:`load_slices`) -> cache (in memory, or in a file
    when ``cache`` is a path; a quarter of the memory of float32) -> seeded
    shuffle -> repeat -> batch -> float32 ``pixels / 255`` -> augmentation ->
    ``prefetch(AUTOTUNE)``. Use it for data that does not fit in memory (with
    ``cache`` a file path, or ``False``); :func:`load_slices` + :func:`make_dataset`
    is the default path of the series.

    Returns:
        A dataset of float32 ``[B, image_size, image_size, 1]`` images in ``[0, 1]``.
    """
    import tensorflow as tf

    image_size = check_image_size(image_size)
    batch_size = _check_batch_size(batch_size)
    if not files:
        raise ValueError("cannot make a dataset from an empty list of files")

    def decode(path):
        raw = tf.io.read_file(path)
        image = tf.io.decode_png(raw, channels=1, dtype=tf.uint16)
        image = tf.image.convert_image_dtype(image, tf.float32)
        shape = tf.shape(image)
        same_size = tf.logical_and(tf.equal(shape[0], image_size), tf.equal(shape[1], image_size))
        image = tf.cond(
            same_size,
            lambda: image,
            lambda: tf.image.resize_with_pad(image, image_size, image_size, antialias=True),
        )
        pixels = tf.cast(tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0), tf.uint8)
        return tf.ensure_shape(pixels, [image_size, image_size, 1])

    dataset = tf.data.Dataset.from_tensor_slices([str(path) for path in files])
    dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:
        dataset = dataset.cache(cache if isinstance(cache, str) else "")
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    dataset = dataset.map(to_float, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if augment:
        seeds = tf.data.Dataset.random(seed=seed).batch(2, drop_remainder=True)
        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            lambda images, pair: augment_batch(images, None, pair, image_size // 32, 0.1),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def measure_pipeline(dataset, max_batches: int | None = None) -> dict[str, float]:
    """Iterate a dataset once and time it.

    Returns:
        ``{"images": n, "seconds": t, "images_per_second": n / t}``.
    """
    begin = time.perf_counter()
    count = 0
    for index, element in enumerate(dataset):
        if max_batches is not None and index >= max_batches:
            break
        batch = element[0] if isinstance(element, tuple) else element
        count += int(batch.shape[0])
    seconds = time.perf_counter() - begin
    return {"images": count, "seconds": seconds, "images_per_second": count / max(seconds, 1e-9)}


def brain_crops(dataset, crop_size: int, batch_size: int, seed: int = 42, threshold: float = 0.02):
    """Re-batch a dataset of images into random ``crop_size`` crops centred in the brain.

    The VQ-VAE is fully convolutional, so it can train on crops and still encode
    whole slices. A crop costs ``(crop_size / S)^2`` of a slice, and centring it on a
    random brain pixel (``image > threshold``; the image centre when there is none)
    spends that computation on brain rather than on black background, which the
    model learns within a few steps. Crops are clamped to the image.

    Args:
        dataset: yields float ``[B, S, S, 1]`` batches (or tuples whose first item is),
            e.g. :func:`make_dataset`.
        crop_size: side of the crops, ``1 <= crop_size <= S``.
        batch_size: crops per output batch, ``>= 1`` (incomplete batches are dropped).
        seed: seeds the choice of centres.
        threshold: intensity above which a pixel counts as brain, in ``[0, 1)``.

    Returns:
        A dataset of float32 ``[batch_size, crop_size, crop_size, 1]`` batches.

    Raises:
        ValueError: ``crop_size`` outside ``[1, S]`` (checked before anything is
            built when the dataset's image side is known; otherwise when the
            first batch arrives), ``batch_size`` below 1, ``threshold`` outside
            ``[0, 1)``.
    """
    import tensorflow as tf

    spec = dataset.element_spec
    spec = spec[0] if isinstance(spec, tuple) else spec
    if spec.shape.rank != 4:
        raise ValueError(
            f"brain_crops needs a dataset of image batches [B, S, S, 1], got elements of "
            f"shape {spec.shape}"
        )
    height, width = spec.shape[1], spec.shape[2]
    known_side = min(height, width) if height is not None and width is not None else None
    allowed = f"[1, {known_side}] (the image side)" if known_side else "[1, image side]"
    if isinstance(crop_size, bool) or int(crop_size) != crop_size or crop_size < 1:
        raise ValueError(f"crop_size must be a whole number in {allowed}, got {crop_size!r}")
    crop_size = int(crop_size)
    if known_side is not None and crop_size > known_side:
        raise ValueError(
            f"crop_size must be in {allowed}, got {crop_size}: use a crop_size of at most "
            f"{known_side}, or a larger image_size"
        )
    batch_size = _check_batch_size(batch_size)
    if not 0.0 <= float(threshold) < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")

    def first(*items):
        return items[0]

    def crop(image, pair):
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        if known_side is None:  # only known now: the same message, from the graph
            tf.debugging.assert_less_equal(
                crop_size,
                tf.minimum(height, width),
                message=f"crop_size must be in [1, image side], got {crop_size}",
            )
        brain = tf.where(image[..., 0] > threshold)  # [M, 2] int64
        count = tf.shape(brain, out_type=tf.int64)[0]
        choice = tf.random.stateless_uniform(
            [], seed=pair, minval=0, maxval=tf.maximum(count, 1), dtype=tf.int64
        )
        centre = tf.cond(
            count > 0,
            lambda: tf.cast(brain[choice], tf.int32),
            lambda: tf.stack([height // 2, width // 2]),
        )
        top = tf.clip_by_value(centre[0] - crop_size // 2, 0, height - crop_size)
        left = tf.clip_by_value(centre[1] - crop_size // 2, 0, width - crop_size)
        return tf.image.crop_to_bounding_box(image, top, left, crop_size, crop_size)

    images = dataset.map(first).unbatch()
    seeds = tf.data.Dataset.random(seed=seed).batch(2, drop_remainder=True)
    crops = tf.data.Dataset.zip((images, seeds)).map(crop, num_parallel_calls=tf.data.AUTOTUNE)
    return crops.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def sample_patches(
    images: npt.ArrayLike, patch_size: int = 4, max_patches: int | None = None, seed: int = 0
) -> npt.NDArray[np.float32]:
    """Non-overlapping square patches of images as flattened vectors, optionally a random sample.

    Image ``n`` is cut into a ``(H / p) x (W / p)`` grid of ``p x p`` patches; patch
    ``m = (n * H / p + r) * W / p + c`` (row-major over images, grid rows, grid
    columns) holds ``image[n, r p : (r + 1) p, c p : (c + 1) p]`` in row-major order.
    With ``max_patches``, ``max_patches`` distinct patch numbers ``m`` are drawn
    uniformly at random (seeded) and only those patches are read, in increasing
    ``m``: memory is that of the sample, never of every patch.

    Args:
        images: ``[N, H, W]`` or ``[N, H, W, 1]``: a float array in ``[0, 1]``,
            uint8 pixels (divided by 255), or a split's ``images`` view
            (:attr:`SliceSplit.images`).
        patch_size: side ``p`` of each patch; ``H`` and ``W`` must be multiples of it.
        max_patches: keep at most this many patches (``None``: every patch).
        seed: seed of the sample.

    Returns:
        float32 ``[M, p * p]``, ``M = min(max_patches, N * H * W / p^2)``.

    Raises:
        ValueError: a bad shape, ``patch_size`` < 1 or not dividing the image side,
            ``max_patches`` < 1.
    """
    shape = tuple(images.shape)
    if len(shape) == 4 and shape[-1] != 1:
        raise ValueError(f"expected one channel, got images of shape {shape}")
    if len(shape) not in (3, 4):
        raise ValueError(f"expected images [N, H, W] or [N, H, W, 1], got shape {shape}")
    if isinstance(patch_size, bool) or int(patch_size) != patch_size or patch_size < 1:
        raise ValueError(f"patch_size must be a whole number >= 1, got {patch_size!r}")
    patch_size = int(patch_size)
    count, height, width = shape[:3]
    if height % patch_size or width % patch_size:
        raise ValueError(f"image size {height}x{width} is not divisible by patch_size={patch_size}")
    if max_patches is not None and (int(max_patches) != max_patches or max_patches < 1):
        raise ValueError(f"max_patches must be a whole number >= 1 or None, got {max_patches!r}")
    rows, columns = height // patch_size, width // patch_size
    total = count * rows * columns

    def as_floats(array) -> np.ndarray:
        array = np.asarray(array)
        if array.dtype == np.uint8:
            return floats_from_pixels(array)
        return array.astype(np.float32, copy=False)

    if max_patches is None or max_patches >= total:
        whole = as_floats(images[:])
        whole = whole.reshape(count, rows, patch_size, columns, patch_size)
        patches = whole.transpose(0, 1, 3, 2, 4).reshape(-1, patch_size * patch_size)
        return np.ascontiguousarray(patches, dtype=np.float32)

    chosen = np.sort(np.random.default_rng(seed).choice(total, int(max_patches), replace=False))
    image_index, cell = np.divmod(chosen, rows * columns)
    row, column = np.divmod(cell, columns)
    offsets = np.arange(patch_size)
    pixel_rows = (row * patch_size)[:, None, None] + offsets[None, :, None]  # [M, p, 1]
    pixel_columns = (column * patch_size)[:, None, None] + offsets[None, None, :]  # [M, 1, p]
    key = (image_index[:, None, None], pixel_rows, pixel_columns)
    patches = as_floats(images[key])  # [M, p, p] or [M, p, p, 1]
    return np.ascontiguousarray(patches.reshape(len(chosen), patch_size * patch_size))
