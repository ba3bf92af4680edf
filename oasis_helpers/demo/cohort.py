"""The demo cohort: its subjects built in parallel (:func:`build_demo_cohort`) or read from
the ``.npz`` cache under :func:`cache_dir`, keyed by every parameter (:class:`DemoCohort`).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from oasis_helpers import runs
from oasis_helpers.demo.config import SPLITS, DemoConfig, demo_config
from oasis_helpers.demo.subject import build_subject
from oasis_helpers.demo.template import load_template

__all__ = [
    "DemoCohort",
    "build_demo_cohort",
    "cache_dir",
    "write_cache",
]


@dataclass
class DemoCohort:
    """A built (or cached) demo cohort.

    Attributes:
        config: the parameters it was built from.
        images: per split, uint8 ``[N, S, S]`` (divide by 255 for ``[0, 1]``).
        masks: per split, uint8 ``[N, S, S]`` labels 0 bg, 1 CSF, 2 GM, 3 WM.
        subject_ids: per split, str ``[N]`` (``demo000``, ``demo001``, ...).
        slice_ids: per split, int32 ``[N]`` (0 = most inferior kept slice).
        seconds: time spent building or loading it.
        from_cache: whether it was read from the cache file.
        path: the cache file (``None`` when caching was off).
    """

    config: DemoConfig
    images: dict[str, npt.NDArray[np.uint8]]
    masks: dict[str, npt.NDArray[np.uint8]]
    subject_ids: dict[str, npt.NDArray[np.str_]]
    slice_ids: dict[str, npt.NDArray[np.int32]]
    seconds: float
    from_cache: bool
    path: Path | None


def cache_dir() -> Path:
    """Folder of cached cohorts: ``$OASIS_VQVAE_CACHE`` or ``~/.cache/oasis-vqvae``."""
    configured = os.environ.get("OASIS_VQVAE_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "oasis-vqvae"


def _subject_indices(config: DemoConfig) -> dict[str, list[int]]:
    """Distinct subject numbers per split: train first, then validate, then test."""
    indices, start = {}, 0
    for split in SPLITS:
        count = int(config.subjects.get(split, 0))
        indices[split] = list(range(start, start + count))
        start += count
    return indices


def _read_cache(path: Path, config: DemoConfig) -> DemoCohort | None:
    """Read a cached cohort, or ``None`` when the file is missing or unreadable."""
    if not path.exists():
        return None
    begin = time.perf_counter()
    try:
        with np.load(path, allow_pickle=False) as stored:
            if str(stored["key"]) != config.key():
                return None
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, KeyError, EOFError):
        return None  # a damaged cache file is rebuilt, never trusted
    return DemoCohort(
        config=config,
        images={split: arrays[f"images_{split}"] for split in SPLITS},
        masks={split: arrays[f"masks_{split}"] for split in SPLITS},
        subject_ids={split: arrays[f"subject_ids_{split}"].astype(str) for split in SPLITS},
        slice_ids={split: arrays[f"slice_ids_{split}"].astype(np.int32) for split in SPLITS},
        seconds=time.perf_counter() - begin,
        from_cache=True,
        path=path,
    )


def write_cache(path: Path, cohort: DemoCohort) -> None:
    """Write the cohort atomically (``runs.atomic_replacement``: a temporary file renamed
    into place)."""
    arrays = {"key": np.array(cohort.config.key())}
    for split in SPLITS:
        arrays[f"images_{split}"] = cohort.images[split]
        arrays[f"masks_{split}"] = cohort.masks[split]
        arrays[f"subject_ids_{split}"] = cohort.subject_ids[split].astype("U")
        arrays[f"slice_ids_{split}"] = cohort.slice_ids[split]
    with runs.atomic_replacement(path) as temporary:
        np.savez_compressed(temporary, **arrays)


def build_demo_cohort(
    config: DemoConfig | None = None,
    use_cache: bool = True,
    cache_folder: str | os.PathLike | None = None,
    workers: int | None = None,
) -> DemoCohort:
    """Build the demo cohort described by ``config`` (or load it from the cache).

    Args:
        config: the cohort parameters; :func:`demo_config` defaults when ``None``.
        use_cache: read ``<cache>/demo-<key>.npz`` when it exists and write it
            after building.
        cache_folder: where cached cohorts live (default :func:`cache_dir`).
        workers: threads building subjects in parallel (default: CPU count).

    Returns:
        A :class:`DemoCohort`; identical arrays for identical ``config``.
    """
    config = config or demo_config()
    folder = Path(cache_folder).expanduser() if cache_folder is not None else cache_dir()
    path = folder / f"demo-{config.key()}.npz" if use_cache else None
    if path is not None:
        cached = _read_cache(path, config)
        if cached is not None:
            return cached

    begin = time.perf_counter()
    template = load_template()
    indices = _subject_indices(config)
    every = [index for split in SPLITS for index in indices[split]]
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        subjects = pool.map(lambda k: build_subject(k, config, template), every)
        built = dict(zip(every, subjects, strict=True))

    size, count = config.image_size, config.slices_per_subject
    images, masks, subject_ids, slice_ids = {}, {}, {}, {}
    for split in SPLITS:
        chosen = indices[split]
        if chosen:
            images[split] = np.concatenate([built[k][0] for k in chosen])
            masks[split] = np.concatenate([built[k][1] for k in chosen])
        else:
            images[split] = np.zeros((0, size, size), np.uint8)
            masks[split] = np.zeros((0, size, size), np.uint8)
        subject_ids[split] = np.repeat([f"demo{k:03d}" for k in chosen], count).astype(str)
        slice_ids[split] = np.tile(np.arange(count, dtype=np.int32), len(chosen))
    cohort = DemoCohort(
        config=config,
        images=images,
        masks=masks,
        subject_ids=subject_ids,
        slice_ids=slice_ids,
        seconds=time.perf_counter() - begin,
        from_cache=False,
        path=path,
    )
    if path is not None:
        try:
            write_cache(path, cohort)
        except OSError as error:  # a read-only home must not stop the series
            import warnings

            warnings.warn(f"could not cache the demo cohort at {path}: {error}", stacklevel=2)
            cohort.path = None
    return cohort
