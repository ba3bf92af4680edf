"""The code grids of ``codes.npz``: what notebook 03 writes and notebooks 04 and 05 read.

Notebook 03 encodes every split of its slices with the trained VQ-VAE and writes
``run_dir/03_train_vqvae/codes.npz`` (:func:`save_codes`); notebook 04 trains its prior on
them and notebook 05 its blind-spot model, reading them back with :func:`load_codes`.

Per split ``name`` the file holds ``{name}_codes`` int32 ``[N, h, w]`` (codes in
``[0, K)``), ``{name}_subject_ids`` str ``[N]``, ``{name}_slice_ids`` int32 ``[N]`` and
``{name}_slice_heights`` float32 ``[N]`` (each slice's normalised axial height within its
subject, :func:`oasis_helpers.data.slice_heights`: what the prior and the
blind-spot model are conditioned on); plus ``splits`` (the split names) and the VQ-VAE's
``num_embeddings`` (K), ``embedding_dim`` (D), ``downsample`` (F) and ``image_size`` (S).
:class:`CodeGrids` is the file in memory, one :class:`CodeSplit` per split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from oasis_helpers import models, runs
from oasis_helpers.data.slicing import slice_heights

__all__ = [
    "CODES_FILE",
    "CodeGrids",
    "CodeSplit",
    "load_codes",
    "save_codes",
]

#: The file of the code grids, under ``run_dir/03_train_vqvae/``.
CODES_FILE = "codes.npz"
_CODES_NOTEBOOK = "03_train_vqvae"


@dataclass(frozen=True)
class CodeSplit:
    """The code grids of one split.

    Attributes:
        codes: int32 ``[N, h, w]`` code indices in ``[0, K)`` (``h = w = S / F``).
        subject_ids: str ``[N]``, the subject of each slice.
        slice_ids: int32 ``[N]``, the slice's index within its subject.
        slice_heights: float32 ``[N]`` in ``[0, 1]``, the slice's normalised axial height
            within its subject in this split: ``(slice_id - lowest) / (highest - lowest)``
            over that subject's slice ids (0: its lowest slice, 1: its highest); 0.5
            for a subject with a single slice.
    """

    codes: npt.NDArray[np.int32]
    subject_ids: npt.NDArray[np.str_]
    slice_ids: npt.NDArray[np.int32]
    slice_heights: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.codes.shape[0])


@dataclass(frozen=True)
class CodeGrids:
    """The content of ``codes.npz``: one :class:`CodeSplit` per split and the model settings.

    ``grids["train"]`` (or ``grids.splits["train"]``) is a split; ``num_embeddings`` (K),
    ``embedding_dim`` (D), ``downsample`` (F) and ``image_size`` (S) are those of the
    VQ-VAE that made the codes; ``code_size`` is ``S / F``.
    """

    splits: dict[str, CodeSplit]
    num_embeddings: int
    embedding_dim: int
    downsample: int
    image_size: int
    path: Path | None = None

    def __getitem__(self, split: str) -> CodeSplit:
        if split not in self.splits:
            raise KeyError(f"no split {split!r} in the code grids; splits: {sorted(self.splits)}")
        return self.splits[split]

    @property
    def code_size(self) -> int:
        """Side ``h = w`` of each code grid."""
        return self.image_size // self.downsample


def _float_batch(images) -> np.ndarray:
    """float32 images in [0, 1] from float images or uint8 images in [0, 255]."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return images.astype(np.float32, copy=False)


def _encode_split(model: models.VQVAE, split, batch_size: int) -> np.ndarray:
    """Codes of every slice of ``split`` (its ``images``, float or uint8), in batches."""
    images = split.images
    count = len(images)
    codes = np.zeros((count, model.code_size, model.code_size), np.int32)
    for start in range(0, count, batch_size):
        batch = _float_batch(images[start : start + batch_size])
        codes[start : start + len(batch)] = model.encode(batch, batch_size=batch_size)
    return codes


def save_codes(
    path, model: models.VQVAE, source, batch_size: int = models.INFERENCE_BATCH_SIZE
) -> CodeGrids:
    """Encode every split of ``source`` with ``model`` and write them to ``path`` (``.npz``).

    Args:
        path: the file, normally ``run_dir/03_train_vqvae/codes.npz`` (its folder is created).
        model: a trained :class:`oasis_helpers.models.VQVAE`.
        source: a ``data.SliceSource`` (``source.splits[name]`` has ``images``
            ``[N, S, S, 1]`` (float32 in [0, 1] or uint8), ``subject_ids``, ``slice_ids``).
        batch_size: slices encoded at a time.

    The file holds, per split ``name``: ``{name}_codes`` int32 ``[N, h, w]``,
    ``{name}_subject_ids`` str ``[N]``, ``{name}_slice_ids`` int32 ``[N]`` and
    ``{name}_slice_heights`` float32 ``[N]`` (:func:`~oasis_helpers.data.slice_heights`);
    plus ``splits``
    (the split names) and the model settings ``num_embeddings``, ``embedding_dim``,
    ``downsample``, ``image_size`` (int32 scalars).

    In a multi-worker cluster (``TF_CONFIG``) every worker encodes, and only the chief
    writes the file (``distributed.is_chief``).

    Returns:
        The :class:`CodeGrids` written (what :func:`load_codes` will read back).
    """
    from oasis_helpers import distributed

    path = Path(path)
    if not source.splits:
        raise ValueError("source has no splits to encode")
    splits = {}
    for name, split in source.splits.items():
        subject_ids = np.asarray(split.subject_ids).astype(str)
        slice_ids = np.asarray(split.slice_ids, dtype=np.int32)
        splits[name] = CodeSplit(
            codes=_encode_split(model, split, batch_size),
            subject_ids=subject_ids,
            slice_ids=slice_ids,
            slice_heights=slice_heights(subject_ids, slice_ids),
        )
    grids = CodeGrids(
        splits=splits,
        num_embeddings=model.num_embeddings,
        embedding_dim=model.embedding_dim,
        downsample=model.downsample,
        image_size=model.image_size,
        path=path,
    )
    arrays = {
        "splits": np.asarray(list(splits), dtype=str),
        "num_embeddings": np.int32(grids.num_embeddings),
        "embedding_dim": np.int32(grids.embedding_dim),
        "downsample": np.int32(grids.downsample),
        "image_size": np.int32(grids.image_size),
    }
    for name, split in splits.items():
        for field in ("codes", "subject_ids", "slice_ids", "slice_heights"):
            arrays[f"{name}_{field}"] = getattr(split, field)
    if not distributed.is_chief():
        return grids
    with runs.atomic_replacement(path) as temporary:  # a reader never sees half a file
        np.savez_compressed(temporary, **arrays)
    return grids


def load_codes(run_dir) -> CodeGrids:
    """Read ``run_dir/03_train_vqvae/codes.npz`` (written by :func:`save_codes`).

    Raises:
        FileNotFoundError: the file is missing; the message says to run
            ``notebooks/03_train_vqvae.ipynb`` first with the same ``run_dir``.
        ValueError: the file lacks an expected array (it names the array).
    """
    path = runs.require_artifact(run_dir, _CODES_NOTEBOOK, CODES_FILE)
    with np.load(path, allow_pickle=False) as stored:
        names = set(stored.files)

        def read(key: str) -> np.ndarray:
            if key not in names:
                raise ValueError(
                    f"{path} has no array {key!r}: it was not written by code_grids.save_codes; "
                    f"re-run notebooks/03_train_vqvae.ipynb"
                )
            return stored[key]

        splits = {
            str(name): CodeSplit(
                codes=read(f"{name}_codes").astype(np.int32),
                subject_ids=read(f"{name}_subject_ids").astype(str),
                slice_ids=read(f"{name}_slice_ids").astype(np.int32),
                slice_heights=read(f"{name}_slice_heights").astype(np.float32),
            )
            for name in read("splits")
        }
        return CodeGrids(
            splits=splits,
            num_embeddings=int(read("num_embeddings")),
            embedding_dim=int(read("embedding_dim")),
            downsample=int(read("downsample")),
            image_size=int(read("image_size")),
            path=path,
        )
