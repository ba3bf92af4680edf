"""Finding, loading and inspecting OASIS brain MRI slices, and tf.data pipelines.

Four sources are supported, detected from the folder the user points at
(``data_dir``; see :data:`LAYOUT_TREES` for the folder trees):

``png_slices``
    The preprocessed OASIS PNG slices (``keras_png_slices_data``): 256x256
    grayscale axial slices in ``keras_png_slices_{train,validate,test}`` with
    optional tissue masks in ``keras_png_slices_seg_{train,validate,test}``
    (pixel values 0, 85, 170, 255 = background, CSF, grey matter, white matter,
    loaded as labels 0..3). The folders' own split is kept.
``oasis1_analyze``
    OASIS-1 cross-sectional volumes (Analyze 7.5, 176x208x176, skull-stripped,
    atlas registered) under ``disc*/OAS1_XXXX_MR1/PROCESSED/MPRAGE/T88_111/``;
    the FSL_SEG tissue segmentation is used as masks when present.
``nifti``
    Any folder of NIfTI volumes (``*.nii``, ``*.nii.gz``, searched recursively).
``demo``
    ``data_dir=None``: the embedded demo cohort (:mod:`oasis_helpers.demo`), a
    stand-in built from the MNI152 template, **not OASIS**.

Volumes are split by subject with a seeded permutation and fixed fractions
(default 80/10/10, at least one subject per split when there are three or more
subjects). Their axial slices over the brain are scaled per volume to
``[0, 1]`` (robust percentiles), framed like the OASIS PNGs (brain centred in a
square frame) and resized to ``image_size``.

Every source comes out as a :class:`SliceSource` whose splits hold float32
images ``[N, image_size, image_size, 1]`` in ``[0, 1]``; :func:`make_dataset`
turns a split into a shuffled, optionally augmented, batched ``tf.data``
pipeline.
"""

from __future__ import annotations

import math
import os
import re
import struct
import time
import warnings
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SPLITS = ("train", "validate", "test")
LAYOUTS = ("png_slices", "oasis1_analyze", "nifti", "demo")

#: Tissue labels of the masks (the OASIS PNG convention).
MASK_LABELS = {0: "background", 1: "CSF", 2: "grey matter", 3: "white matter"}

#: Default subject split of volume layouts.
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)

#: Subjects per split and slices per subject loaded from real data when ``smoke=True``.
SMOKE_SUBJECTS = {"train": 3, "validate": 1, "test": 1}
SMOKE_SLICES_PER_SUBJECT = 8

LAYOUT_LABELS = {
    "png_slices": "OASIS preprocessed PNG slices (keras_png_slices_data)",
    "oasis1_analyze": "OASIS-1 cross-sectional volumes (Analyze 7.5, T88_111 masked gfc)",
    "nifti": "NIfTI volumes",
}

LAYOUT_TREES = """\
Supported data layouts (pass the top folder as data_dir):

1. OASIS preprocessed PNG slices (data_dir = this folder or the folder above it)
   keras_png_slices_data/
   ├── keras_png_slices_train/          case_441_slice_0.nii.png, ... (9,664 slices)
   ├── keras_png_slices_validate/       (1,120 slices)
   ├── keras_png_slices_test/           (544 slices)
   ├── keras_png_slices_seg_train/      seg_441_slice_0.nii.png, ... (optional masks:
   ├── keras_png_slices_seg_validate/        0 background, 85 CSF, 170 grey, 255 white matter)
   └── keras_png_slices_seg_test/

2. OASIS-1 cross-sectional Analyze 7.5 volumes (a disc folder, or the folder holding discs)
   oasis1/
   └── disc1/
       └── OAS1_0001_MR1/
           ├── PROCESSED/MPRAGE/T88_111/
           │   ├── OAS1_0001_MR1_mpr_n4_anon_111_t88_masked_gfc.hdr
           │   └── OAS1_0001_MR1_mpr_n4_anon_111_t88_masked_gfc.img
           └── FSL_SEG/OAS1_0001_MR1_mpr_n4_anon_111_t88_masked_gfc_fseg.{hdr,img}  (optional)

3. Any folder of NIfTI volumes, searched recursively (one 3D volume per file;
   the subject is the BIDS sub-XX in the path, else the file name)
   my_volumes/
   ├── sub-01_T1w.nii.gz
   └── more/sub-02_T1w.nii

4. data_dir = None: the embedded demo cohort, built from the MNI152 template that
   ships with nilearn (no download). A stand-in for trying the series, not OASIS.
"""


class DataLayoutError(FileNotFoundError):
    """``data_dir`` is missing, empty or holds no supported layout (message lists them)."""


class UnreadableFileError(ValueError):
    """An image or volume could not be read (truncated, corrupt, NaN voxels, ...).

    Attributes:
        path: the offending file.
        reason: what was wrong with it.
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(
            f"{self.path}: {reason}. Replace or remove this file, or pass on_error='skip' "
            "to skip unreadable files with a warning."
        )


# ============================================================================ containers


@dataclass
class SliceSplit:
    """The slices of one split.

    Attributes:
        images: float32 ``[N, image_size, image_size, 1]`` in ``[0, 1]``.
        subject_ids: str ``[N]``, the subject each slice comes from.
        slice_ids: int32 ``[N]``, the slice's index within its subject.
        masks: uint8 ``[N, image_size, image_size]`` tissue labels (0 background,
            1 CSF, 2 grey matter, 3 white matter), or ``None`` without masks.
        files: the source file of each slice.
        mask_present: bool ``[N]``, whether slice ``i`` has a real mask (masks of
            slices without one are all background); ``None`` without masks.
    """

    images: np.ndarray
    subject_ids: np.ndarray
    slice_ids: np.ndarray
    masks: np.ndarray | None
    files: list[str]
    mask_present: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def subjects(self) -> list[str]:
        """The distinct subjects, in order of first appearance."""
        return list(dict.fromkeys(self.subject_ids.tolist()))

    def subject_slices(self, subject_id: str) -> np.ndarray:
        """Indices of one subject's slices, ordered by slice id."""
        indices = np.flatnonzero(self.subject_ids == subject_id)
        return indices[np.argsort(self.slice_ids[indices], kind="stable")]


@dataclass
class SliceSource:
    """A loaded source: its layout, where it came from, its splits and a summary.

    Attributes:
        layout: one of :data:`LAYOUTS`.
        root: the folder the data came from (``None`` for the demo cohort).
        image_size: side of the square slices.
        splits: ``{"train": SliceSplit, "validate": ..., "test": ...}``.
        info: the inspection summary (:func:`inspect_source`).
    """

    layout: str
    root: Path | None
    image_size: int
    splits: dict[str, SliceSplit]
    info: dict = field(default_factory=dict)

    @property
    def stand_in(self) -> bool:
        """True for the demo cohort, which is a stand-in for OASIS, not OASIS."""
        return self.layout == "demo"

    @property
    def label(self) -> str:
        """A human-readable name of the source, for titles and printouts."""
        if self.layout == "demo":
            from oasis_helpers.demo import DEMO_LABEL

            return DEMO_LABEL
        return LAYOUT_LABELS.get(self.layout, self.layout)


def _empty_split(image_size: int, with_masks: bool) -> SliceSplit:
    return SliceSplit(
        images=np.zeros((0, image_size, image_size, 1), np.float32),
        subject_ids=np.zeros((0,), dtype=str),
        slice_ids=np.zeros((0,), np.int32),
        masks=np.zeros((0, image_size, image_size), np.uint8) if with_masks else None,
        files=[],
        mask_present=np.zeros((0,), bool) if with_masks else None,
    )


# ============================================================================ detection


def _natural_key(text: str) -> list:
    """Sort key that orders ``case_2`` before ``case_10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _visible(path: Path) -> bool:
    """False for hidden files and folders (``.DS_Store``, ``._case_1.png`` from macOS)."""
    return not path.name.startswith(".")


def _resolve_data_dir(data_dir: str | os.PathLike) -> Path:
    """Expand ``~``; a relative path missing from the working directory is tried
    relative to the repository root (JupyterLab starts kernels in ``notebooks/``)."""
    path = Path(data_dir).expanduser()
    if not path.is_absolute() and not path.exists():
        from oasis_helpers.runs import project_root

        candidate = project_root() / path
        if candidate.exists():
            return candidate
    return path


def _png_root(path: Path) -> Path | None:
    """The folder holding ``keras_png_slices_*`` folders: ``path`` or a child of it."""

    def holds_png_splits(folder: Path) -> bool:
        return any((folder / f"keras_png_slices_{split}").is_dir() for split in SPLITS)

    if holds_png_splits(path):
        return path
    children = sorted(child for child in path.iterdir() if child.is_dir() and _visible(child))
    for child in children:
        if holds_png_splits(child):
            return child
    return None


_OASIS1_PATTERNS = (
    "PROCESSED/MPRAGE/T88_111/*_t88_masked_gfc.img",  # a session folder itself
    "OAS1_*/PROCESSED/MPRAGE/T88_111/*_t88_masked_gfc.img",  # a disc folder
    "*/OAS1_*/PROCESSED/MPRAGE/T88_111/*_t88_masked_gfc.img",  # the folder of discs
    "*/*/OAS1_*/PROCESSED/MPRAGE/T88_111/*_t88_masked_gfc.img",  # one level above that
)


def _oasis1_images(path: Path) -> list[Path]:
    found: set[Path] = set()
    for pattern in _OASIS1_PATTERNS:
        found.update(candidate for candidate in path.glob(pattern) if _visible(candidate))
    return sorted(found, key=lambda candidate: _natural_key(str(candidate)))


_MASK_NAME = re.compile(r"(^|[_\-.])(seg|dseg|fseg|mask|label|labels|probseg|aseg)([_\-.]|$)")


def _nifti_files(path: Path) -> tuple[list[Path], list[Path]]:
    """NIfTI volumes under ``path`` and files skipped because they look like masks.

    Hidden folders (``.git``, ``.venv``, ...) are not searched.
    """
    volumes, masks = [], []
    for folder, folders, files in os.walk(path):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in files:
            lower = name.lower()
            if name.startswith(".") or not (lower.endswith(".nii") or lower.endswith(".nii.gz")):
                continue
            (masks if _MASK_NAME.search(lower) else volumes).append(Path(folder) / name)
    key = lambda candidate: _natural_key(str(candidate))  # noqa: E731
    return sorted(volumes, key=key), sorted(masks, key=key)


def detect_layout(data_dir: str | os.PathLike | None) -> tuple[str, Path | None]:
    """Find which supported layout ``data_dir`` holds.

    Returns:
        ``(layout, root)``: the layout name (one of :data:`LAYOUTS`) and the folder
        to load it from (``None`` for the demo cohort).

    Raises:
        DataLayoutError: ``data_dir`` is missing, not a folder, empty or holds no
            supported layout; the message shows :data:`LAYOUT_TREES`.
    """
    if data_dir is None:
        return "demo", None
    path = _resolve_data_dir(data_dir)
    if not path.exists():
        raise DataLayoutError(f"data_dir {path} does not exist.\n\n{LAYOUT_TREES}")
    if not path.is_dir():
        raise DataLayoutError(f"data_dir {path} is a file, not a folder.\n\n{LAYOUT_TREES}")
    entries = [entry for entry in path.iterdir() if _visible(entry)]
    if not entries:
        raise DataLayoutError(f"data_dir {path} is empty.\n\n{LAYOUT_TREES}")
    png_root = _png_root(path)
    if png_root is not None:
        return "png_slices", png_root
    if _oasis1_images(path):
        return "oasis1_analyze", path
    if _nifti_files(path)[0]:
        return "nifti", path
    examples = ", ".join(sorted(entry.name for entry in entries)[:5])
    hint = ""
    if re.match(r"keras_png_slices_", path.name):
        hint = f" It looks like one split folder: pass its parent, {path.parent}, instead."
    raise DataLayoutError(
        f"no supported data found in {path} (it holds {len(entries)} entries, e.g. "
        f"{examples}).{hint}\n\n{LAYOUT_TREES}"
    )


# ============================================================================ image helpers


def _check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")


def _pad_to_square(array: np.ndarray) -> np.ndarray:
    """Zero-pad a 2D array to a centred square."""
    height, width = array.shape
    side = max(height, width)
    if height == width:
        return array
    top, left = (side - height) // 2, (side - width) // 2
    square = np.zeros((side, side), dtype=array.dtype)
    square[top : top + height, left : left + width] = array
    return square


def _resize(array: np.ndarray, image_size: int, nearest: bool = False) -> np.ndarray:
    """Pad a 2D array to a square, then resize it to ``image_size`` (PIL).

    Intensities use bilinear resampling (antialiased when shrinking); label masks
    use nearest neighbour so no new label values appear.
    """
    from PIL import Image

    array = _pad_to_square(array)
    if array.shape[0] == image_size:
        return array
    if nearest:
        image = Image.fromarray(array.astype(np.uint8), mode="L")
        return np.asarray(image.resize((image_size, image_size), Image.NEAREST))
    image = Image.fromarray(array.astype(np.float32), mode="F")
    return np.asarray(image.resize((image_size, image_size), Image.BILINEAR))


_MASK_LOOKUP = np.clip(np.rint(np.arange(256) / 85.0), 0, 3).astype(np.uint8)


def mask_values_to_labels(mask: np.ndarray) -> np.ndarray:
    """Map mask pixel values to labels 0..3.

    OASIS PNG masks store ``0, 85, 170, 255`` (background, CSF, grey, white
    matter): ``label = round(value / 85)``. Masks that already hold 0..3 are
    kept as they are.
    """
    mask = np.asarray(mask)
    if mask.size and mask.max() <= 3:
        return mask.astype(np.uint8)
    if mask.dtype == np.uint8:
        return _MASK_LOOKUP[mask]  # a table lookup: the fast path for PNG masks
    return np.clip(np.rint(mask.astype(np.float32) / 85.0), 0, 3).astype(np.uint8)


# ============================================================================ PNG slices

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOR_TYPES = {0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}
_PNG_NAME = re.compile(r"^(?:case|seg)_(.+?)_slice_(\d+)", re.IGNORECASE)


@dataclass
class _PngEntry:
    path: Path
    subject: str
    slice_id: int
    width: int = 0
    height: int = 0
    mode: str = ""
    problem: str | None = None


def _parse_png_name(path: Path, position: int) -> tuple[str, int]:
    """``case_441_slice_0.nii.png`` -> ``("441", 0)``; other names: (stem, position)."""
    match = _PNG_NAME.match(path.name)
    if match:
        return match.group(1), int(match.group(2))
    return path.name.split(".")[0], position


def _scan_png(entry: _PngEntry) -> _PngEntry:
    """Read a PNG's header and check its end without decoding it (fast).

    Fills width, height and colour mode; sets ``problem`` for files that are not
    PNGs, or are truncated (no ``IEND`` chunk at the end).
    """
    try:
        with open(entry.path, "rb") as handle:
            head = handle.read(33)
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(size - 64, 0))
            tail = handle.read()
    except OSError as error:
        entry.problem = f"cannot read the file ({error})"
        return entry
    if len(head) < 33 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        entry.problem = "not a PNG image (bad signature or header)"
        return entry
    entry.width, entry.height = struct.unpack(">II", head[16:24])
    bit_depth, color_type = head[24], head[25]
    mode = _PNG_COLOR_TYPES.get(color_type, f"type{color_type}")
    entry.mode = "I;16" if mode == "L" and bit_depth == 16 else mode
    if b"IEND" not in tail:
        entry.problem = f"truncated PNG ({size} bytes, no IEND chunk at the end)"
    return entry


def _decode_png(path: Path, image_size: int, as_mask: bool) -> np.ndarray:
    """Decode one PNG to ``[image_size, image_size]``: intensities or uint8 labels.

    Intensities come as float32 in [0, 1], or, for 8-bit gray images that
    already have the right size, as the raw uint8 pixels (0..255) to save a copy.

    RGB(A), palette and grey+alpha images are converted to gray; 16-bit images
    are scaled by 65535; off-size images are padded to a square and resized.

    Raises:
        UnreadableFileError: the file cannot be decoded (truncated or corrupt).
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                array = np.asarray(image, dtype=np.float32)
                top = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
                pixels = array / top
            elif mode == "F":
                pixels = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
            else:
                gray = image if mode == "L" else image.convert("L")
                pixels = np.asarray(gray, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, zlib.error, struct.error, EOFError) as error:
        raise UnreadableFileError(path, f"cannot decode the PNG ({error})") from error
    except Image.DecompressionBombError as error:
        raise UnreadableFileError(path, f"implausibly large image ({error})") from error
    if as_mask:
        if pixels.dtype != np.uint8:
            pixels = np.rint(pixels * 255.0).astype(np.uint8)
        return _resize(mask_values_to_labels(pixels), image_size, nearest=True)
    if pixels.dtype == np.uint8 and pixels.shape == (image_size, image_size):
        return pixels  # the common case: the caller scales by 1/255 while copying
    if pixels.dtype == np.uint8:
        pixels = pixels.astype(np.float32) / 255.0
    return np.clip(_resize(pixels, image_size), 0.0, 1.0).astype(np.float32)


def _list_png_folder(folder: Path) -> tuple[list[_PngEntry], list[str]]:
    """PNG entries of one folder (natural order) and the names of ignored files."""
    pngs, ignored = [], []
    for item in sorted(folder.iterdir(), key=lambda path: _natural_key(path.name)):
        if item.is_file() and _visible(item) and item.suffix.lower() == ".png":
            pngs.append(item)
        elif item.is_file():
            ignored.append(item.name)
    entries = []
    for position, path in enumerate(pngs):
        subject, slice_id = _parse_png_name(path, position)
        entries.append(_PngEntry(path=path, subject=subject, slice_id=slice_id))
    entries.sort(key=lambda entry: (_natural_key(entry.subject), entry.slice_id))
    return entries, ignored


def _mask_name(image_name: str) -> str:
    """``case_441_slice_0.nii.png`` -> ``seg_441_slice_0.nii.png``."""
    return re.sub(r"^case_", "seg_", image_name, flags=re.IGNORECASE)


def _smoke_subset(entries: list, split: str, key=lambda entry: entry.subject) -> list:
    """The first few subjects of a split, a few evenly spaced slices each (smoke runs)."""
    chosen: dict[str, list] = {}
    for entry in entries:
        chosen.setdefault(key(entry), []).append(entry)
    subjects = list(chosen)[: SMOKE_SUBJECTS[split]]
    subset = []
    for subject in subjects:
        slices = chosen[subject]
        positions = np.unique(
            np.linspace(0, len(slices) - 1, min(SMOKE_SLICES_PER_SUBJECT, len(slices)))
            .round()
            .astype(int)
        )
        subset.extend(slices[position] for position in positions)
    return subset


def _parallel_map(function, items: list, workers: int | None) -> list:
    if not items:
        return []
    workers = workers or min(16, 4 * (os.cpu_count() or 1))
    if workers <= 1 or len(items) < 8:
        return [function(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        return list(pool.map(function, items))
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # stop at the first bad file
        raise
    finally:
        pool.shutdown(wait=True)


def _warn_skipped(skipped: list[dict]) -> None:
    if skipped:
        examples = "; ".join(f"{item['file']} ({item['reason']})" for item in skipped[:3])
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        warnings.warn(f"skipped {len(skipped)} unreadable file(s): {examples}{more}", stacklevel=3)


def load_png_slices(
    root: str | os.PathLike,
    image_size: int = 256,
    smoke: bool = False,
    on_error: str = "raise",
    workers: int | None = None,
) -> SliceSource:
    """Load the OASIS PNG slices under ``root`` (the folder holding ``keras_png_slices_*``).

    Every PNG is first scanned cheaply (header and end of file), so sizes,
    colour modes, truncated files and missing masks are reported for the whole
    data set even when ``smoke`` loads only a few subjects. Decoding runs in a
    thread pool (zlib and file reads release the GIL).

    Args:
        root: the folder holding the split folders.
        image_size: output side; off-size images are padded and resized.
        smoke: load only 3 / 1 / 1 subjects with 8 slices each.
        on_error: ``"raise"`` (default) or ``"skip"`` unreadable files with a warning.
        workers: decoding threads (default ``4 x`` CPU count, at most 16).

    Raises:
        DataLayoutError: a split folder is missing or holds no PNG.
        UnreadableFileError: a file is truncated or cannot be decoded (``"raise"``).
    """
    _check_on_error(on_error)
    begin = time.perf_counter()
    root = Path(root)
    splits: dict[str, SliceSplit] = {}
    scan: dict[str, Any] = {
        "source_counts": {},
        "source_subjects": {},
        "source_subject_ids": {},
        "original_sizes": Counter(),
        "color_modes": Counter(),
        "resized": 0,
        "missing_masks": [],
        "ignored_files": [],
        "skipped": [],
        "mask_folders": {},
    }
    for split in SPLITS:
        folder = root / f"keras_png_slices_{split}"
        if not folder.is_dir():
            raise DataLayoutError(
                f"{folder} is missing: the PNG layout needs a folder per split.\n\n{LAYOUT_TREES}"
            )
        entries, ignored = _list_png_folder(folder)
        scan["ignored_files"].extend(f"{folder.name}/{name}" for name in ignored)
        if not entries:
            raise DataLayoutError(f"{folder} holds no PNG slices.\n\n{LAYOUT_TREES}")
        entries = _parallel_map(_scan_png, entries, workers)
        bad = [entry for entry in entries if entry.problem]
        if bad and on_error == "raise":
            raise UnreadableFileError(bad[0].path, bad[0].problem)
        scan["skipped"].extend({"file": str(entry.path), "reason": entry.problem} for entry in bad)
        entries = [entry for entry in entries if not entry.problem]
        for entry in entries:
            scan["original_sizes"][f"{entry.height}x{entry.width}"] += 1
            scan["color_modes"][entry.mode] += 1
            scan["resized"] += int((entry.height, entry.width) != (image_size, image_size))

        mask_folder = root / f"keras_png_slices_seg_{split}"
        has_masks = mask_folder.is_dir()
        scan["mask_folders"][split] = str(mask_folder) if has_masks else None
        mask_paths: list[Path | None] = []
        if has_masks:
            available = {item.name for item in mask_folder.iterdir() if item.is_file()}
            for entry in entries:
                name = _mask_name(entry.path.name)
                if name in available:
                    mask_paths.append(mask_folder / name)
                else:
                    mask_paths.append(None)
                    scan["missing_masks"].append(str(entry.path))
        subjects = list(dict.fromkeys(entry.subject for entry in entries))
        scan["source_counts"][split] = len(entries)
        scan["source_subjects"][split] = len(subjects)
        scan["source_subject_ids"][split] = subjects

        if smoke:
            keep = {id(entry) for entry in _smoke_subset(entries, split)}
            selected = [i for i, entry in enumerate(entries) if id(entry) in keep]
        else:
            selected = list(range(len(entries)))

        images = np.empty((len(selected), image_size, image_size, 1), np.float32)
        masks = np.zeros((len(selected), image_size, image_size), np.uint8) if has_masks else None
        failures: dict[int, str] = {}

        def decode(
            slot: int,
            selected=selected,
            entries=entries,
            images=images,
            masks=masks,
            mask_paths=mask_paths,
            failures=failures,
        ):
            entry = entries[selected[slot]]
            try:
                pixels = _decode_png(entry.path, image_size, as_mask=False)
                scale = np.float32(1.0 / 255.0) if pixels.dtype == np.uint8 else np.float32(1.0)
                np.multiply(pixels, scale, out=images[slot, :, :, 0], casting="unsafe")
                mask_path = mask_paths[selected[slot]] if masks is not None else None
                if mask_path is not None:
                    masks[slot] = _decode_png(mask_path, image_size, as_mask=True)
            except UnreadableFileError as error:
                if on_error == "raise":
                    raise
                failures[slot] = f"{error.path}: {error.reason}"

        _parallel_map(decode, list(range(len(selected))), workers)
        keep_slots = [slot for slot in range(len(selected)) if slot not in failures]
        for _slot, reason in sorted(failures.items()):
            path, _, why = reason.partition(": ")
            scan["skipped"].append({"file": path, "reason": why})
        if failures:
            images = images[keep_slots]
            masks = masks[keep_slots] if masks is not None else None
        chosen = [entries[selected[slot]] for slot in keep_slots]
        present = None
        if has_masks:
            present = np.array([mask_paths[selected[slot]] is not None for slot in keep_slots])
        splits[split] = SliceSplit(
            images=images,
            subject_ids=np.array([entry.subject for entry in chosen], dtype=str),
            slice_ids=np.array([entry.slice_id for entry in chosen], dtype=np.int32),
            masks=masks,
            files=[str(entry.path) for entry in chosen],
            mask_present=present,
        )

    _warn_skipped(scan["skipped"])
    if scan["missing_masks"]:
        warnings.warn(
            f"{len(scan['missing_masks'])} PNG slice(s) have no mask in the seg folder, e.g. "
            f"{scan['missing_masks'][0]}; their masks are left empty (see info['missing_masks'])",
            stacklevel=2,
        )
    scan["original_sizes"] = dict(scan["original_sizes"])
    scan["color_modes"] = dict(scan["color_modes"])
    scan["load_seconds"] = time.perf_counter() - begin
    source = SliceSource("png_slices", root, image_size, splits, info=scan)
    source.info = inspect_source(source)
    return source


# ============================================================================ volumes


@dataclass
class VolumeRecord:
    """One volume file found in a volume layout.

    Attributes:
        path: the image file (``.img`` of an Analyze pair, or ``.nii[.gz]``).
        subject: the subject id (sessions of one subject share it).
        session: the session / file label (e.g. ``OAS1_0001_MR1``).
        mask_path: a tissue segmentation in the same space, or ``None``.
    """

    path: Path
    subject: str
    session: str
    mask_path: Path | None = None


def find_oasis1_volumes(root: str | os.PathLike) -> list[VolumeRecord]:
    """OASIS-1 ``*_t88_masked_gfc.img`` volumes under ``root`` (disc folders or above).

    The subject is ``OAS1_XXXX`` (so ``MR1`` and ``MR2`` sessions of one person
    share a split); the ``FSL_SEG/*_fseg.img`` segmentation is the mask when present.
    """
    records = []
    for path in _oasis1_images(Path(root)):
        session_folder = path.parents[3]
        session = session_folder.name
        match = re.match(r"(OAS1_\d+)_(MR\d+)", session)
        subject = match.group(1) if match else session
        segmentations = sorted((session_folder / "FSL_SEG").glob("*_fseg.img"))
        records.append(
            VolumeRecord(path, subject, session, segmentations[0] if segmentations else None)
        )
    return records


def find_nifti_volumes(root: str | os.PathLike) -> tuple[list[VolumeRecord], list[Path]]:
    """NIfTI volumes under ``root`` and the mask-like files that were left out.

    The subject is the BIDS ``sub-XX`` found in the path, else the file name
    without ``.nii[.gz]``; files named like masks or segmentations (``_seg``,
    ``_mask``, ``_dseg``, ...) are not loaded as images.
    """
    volumes, masks = _nifti_files(Path(root))
    records = []
    for path in volumes:
        stem = re.sub(r"\.nii(\.gz)?$", "", path.name, flags=re.IGNORECASE)
        relative = str(path.relative_to(root))
        match = re.search(r"sub-[A-Za-z0-9]+", relative)
        subject = match.group(0) if match else stem
        records.append(VolumeRecord(path, subject, stem))
    return records, masks


def split_subjects(
    subject_ids, seed: int = 42, fractions: tuple[float, float, float] = SPLIT_FRACTIONS
) -> dict[str, list[str]]:
    """Assign distinct subjects to train / validate / test with a seeded permutation.

    With ``n >= 3`` subjects, validate and test get ``max(1, round(n * fraction))``
    subjects each and train the rest; with fewer, every subject goes to train
    (and a warning says so). The same subjects and seed always give the same split.
    """
    fractions = tuple(float(value) for value in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or not math.isclose(sum(fractions), 1.0):
        raise ValueError(
            f"split fractions must be three non-negative numbers summing to 1, got {fractions}"
        )
    subjects = sorted(set(map(str, subject_ids)), key=_natural_key)
    order = [subjects[i] for i in np.random.default_rng(seed).permutation(len(subjects))]
    count = len(order)
    if count < 3:
        warnings.warn(
            f"only {count} subject(s): all go to train; validate and test are empty",
            stacklevel=2,
        )
        return {"train": sorted(order, key=_natural_key), "validate": [], "test": []}
    n_validate = max(1, round(count * fractions[1])) if fractions[1] > 0 else 0
    n_test = max(1, round(count * fractions[2])) if fractions[2] > 0 else 0
    n_validate = min(n_validate, count - 1 - (n_test > 0))
    n_test = min(n_test, count - 1 - n_validate)
    n_train = count - n_validate - n_test
    parts = {
        "train": order[:n_train],
        "validate": order[n_train : n_train + n_validate],
        "test": order[n_train + n_validate :],
    }
    return {split: sorted(members, key=_natural_key) for split, members in parts.items()}


def read_volume(path: str | os.PathLike, labels: bool = False) -> np.ndarray:
    """Read a 3D volume (Analyze or NIfTI) reoriented to RAS voxel axes.

    Axis 0 runs left to right, 1 posterior to anterior, 2 inferior to superior,
    as nibabel's affine describes it (Analyze 7.5 stores no orientation; nibabel
    assumes its radiological default). Trailing axes of length 1 are dropped.

    Returns:
        float32 ``[X, Y, Z]`` (uint8 when ``labels``).

    Raises:
        UnreadableFileError: the file cannot be read, is not 3D, or holds NaN or
            infinite voxels.
    """
    import nibabel as nib
    from nibabel.filebasedimages import ImageFileError

    path = Path(path)
    try:
        image = nib.load(str(path))
        data = np.asarray(image.dataobj)
        affine = image.affine
    except (ImageFileError, OSError, EOFError, ValueError, zlib.error, struct.error) as error:
        raise UnreadableFileError(path, f"cannot read the volume ({error})") from error
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise UnreadableFileError(path, f"expected a 3D volume, got shape {data.shape}")
    data = data.astype(np.float32)
    bad = int(np.size(data) - np.count_nonzero(np.isfinite(data)))
    if bad:
        raise UnreadableFileError(path, f"{bad} voxel(s) are NaN or infinite")
    if affine is not None:
        orientation = nib.orientations.io_orientation(affine)
        transform = nib.orientations.ornt_transform(
            orientation, nib.orientations.axcodes2ornt("RAS")
        )
        data = nib.orientations.apply_orientation(data, transform)
    data = np.ascontiguousarray(data)
    return mask_values_to_labels(np.rint(data)) if labels else data


def scale_intensity(
    volume: np.ndarray, low_percentile: float = 0.5, high_percentile: float = 99.5
) -> np.ndarray:
    """Scale a volume to ``[0, 1]`` with robust percentiles.

    ``low`` is the ``low_percentile`` of all voxels (0 for skull-stripped volumes,
    whose background is zero) and ``high`` the ``high_percentile`` of the voxels
    above ``low``; ``(v - low) / (high - low)`` is clipped to ``[0, 1]``, so a few
    hot voxels do not darken the whole volume.
    """
    low = float(np.percentile(volume, low_percentile))
    foreground = volume[volume > low]
    if foreground.size == 0:
        raise ValueError("the volume is constant: nothing to scale")
    high = float(np.percentile(foreground, high_percentile))
    if high <= low:
        high = float(foreground.max())
    return np.clip((volume - low) / (high - low), 0.0, 1.0).astype(np.float32)


def axial_slices(
    volume: np.ndarray,
    image_size: int = 256,
    slices_per_volume: int | None = 32,
    slice_range: tuple[float, float] = (0.3, 0.85),
    brain_fill: float = 0.72,
    labels: np.ndarray | None = None,
    min_brain_fraction: float = 0.02,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Axial slices over the brain, framed and resized like the OASIS PNG slices.

    Args:
        volume: float32 ``[X, Y, Z]`` in ``[0, 1]``, RAS voxel axes (:func:`read_volume`).
        image_size: output side.
        slices_per_volume: evenly spaced slices to keep (``None``: every slice).
        slice_range: the kept part of the brain's inferior-superior extent
            (0 = lowest slice holding brain, 1 = the top one).
        brain_fill: fraction of the frame side the brain's bounding box spans.
        labels: optional uint8 ``[X, Y, Z]`` tissue labels in the same space.
        min_brain_fraction: slices whose brain covers less of its bounding box
            than this are skipped as empty.

    Returns:
        ``(images, slice_ids, masks)``: float32 ``[n, S, S]`` (anterior at the top,
        the subject's right on the right), int32 ``[n]`` axial indices, and uint8
        ``[n, S, S]`` labels or ``None``.
    """
    low, high = slice_range
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"slice_range must satisfy 0 <= low < high <= 1, got {slice_range}")
    brain = volume > 0.05
    per_slice = brain.sum(axis=(0, 1))
    occupied = np.flatnonzero(per_slice > 0)
    if occupied.size == 0:
        raise ValueError("the volume holds no brain voxels")
    first, last = int(occupied[0]), int(occupied[-1])
    start, stop = first + low * (last - first), first + high * (last - first)
    if slices_per_volume is None:
        planes = np.arange(math.ceil(start), math.floor(stop) + 1)
    else:
        planes = np.unique(np.rint(np.linspace(start, stop, slices_per_volume)).astype(int))

    # In-plane frame: the brain's bounding box over the whole volume, centred in a square.
    projection = np.rot90(brain.any(axis=2))  # [Y, X], anterior at the top
    rows, columns = np.flatnonzero(projection.any(axis=1)), np.flatnonzero(projection.any(axis=0))
    box_height, box_width = rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1
    side = int(math.ceil(max(box_height, box_width) / brain_fill))
    centre_row = (rows[0] + rows[-1] + 1) / 2.0
    centre_column = (columns[0] + columns[-1] + 1) / 2.0
    top, left = int(round(centre_row - side / 2.0)), int(round(centre_column - side / 2.0))
    box_area = float(box_height * box_width)

    def framed(plane: np.ndarray) -> np.ndarray:
        canvas = np.zeros((side, side), plane.dtype)
        row_from, column_from = max(top, 0), max(left, 0)
        row_to = min(top + side, plane.shape[0])
        column_to = min(left + side, plane.shape[1])
        canvas[row_from - top : row_to - top, column_from - left : column_to - left] = plane[
            row_from:row_to, column_from:column_to
        ]
        return canvas

    images, kept, masks = [], [], []
    for z in planes:
        if per_slice[z] < min_brain_fraction * box_area:
            continue
        images.append(np.clip(_resize(framed(np.rot90(volume[:, :, z])), image_size), 0, 1))
        if labels is not None:
            masks.append(_resize(framed(np.rot90(labels[:, :, z])), image_size, nearest=True))
        kept.append(int(z))
    stacked = (
        np.stack(images).astype(np.float32)
        if images
        else np.zeros((0, image_size, image_size), np.float32)
    )
    mask_stack = None
    if labels is not None:
        mask_stack = (
            np.stack(masks).astype(np.uint8)
            if masks
            else np.zeros((0, image_size, image_size), np.uint8)
        )
    return stacked, np.array(kept, np.int32), mask_stack


def load_volume_slices(
    root: str | os.PathLike,
    layout: str,
    image_size: int = 256,
    seed: int = 42,
    smoke: bool = False,
    on_error: str = "raise",
    split_fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
    slices_per_volume: int | None = 32,
    slice_range: tuple[float, float] = (0.3, 0.85),
    brain_fill: float = 0.72,
    workers: int | None = None,
) -> SliceSource:
    """Load axial slices of the volumes of an ``oasis1_analyze`` or ``nifti`` layout.

    Subjects (not slices, not sessions) are split with :func:`split_subjects`;
    each volume is read (:func:`read_volume`), scaled (:func:`scale_intensity`)
    and cut into slices (:func:`axial_slices`). With ``smoke`` only 3 / 1 / 1
    subjects with 8 slices each are loaded; the split itself (and the subject
    lists in ``info``) always cover every subject found.

    Raises:
        UnreadableFileError: a volume cannot be read or holds NaN / inf voxels
            (with ``on_error="skip"``: skipped, one warning counts them).
    """
    _check_on_error(on_error)
    begin = time.perf_counter()
    root = Path(root)
    ignored: list[Path] = []
    if layout == "oasis1_analyze":
        records = find_oasis1_volumes(root)
    elif layout == "nifti":
        records, ignored = find_nifti_volumes(root)
    else:
        raise ValueError(f"layout must be 'oasis1_analyze' or 'nifti', got {layout!r}")
    if not records:
        raise DataLayoutError(f"no {layout} volumes found under {root}.\n\n{LAYOUT_TREES}")

    assignment = split_subjects([record.subject for record in records], seed, split_fractions)
    split_of = {subject: split for split, members in assignment.items() for subject in members}
    per_split = {split: [r for r in records if split_of[r.subject] == split] for split in SPLITS}
    if smoke:
        per_split = {
            split: [r for r in chosen if r.subject in assignment[split][: SMOKE_SUBJECTS[split]]]
            for split, chosen in per_split.items()
        }
        slices_per_volume = min(
            slices_per_volume or SMOKE_SLICES_PER_SUBJECT, SMOKE_SLICES_PER_SUBJECT
        )

    def load(record: VolumeRecord):
        failure = None
        try:
            volume = scale_intensity(read_volume(record.path))
        except UnreadableFileError as error:
            failure = error
        except ValueError as error:  # e.g. a constant volume
            failure = UnreadableFileError(record.path, str(error))
        if failure is not None:
            if on_error == "raise":
                raise failure
            return record, failure
        labels = None
        if record.mask_path is not None:
            try:
                labels = read_volume(record.mask_path, labels=True)
            except UnreadableFileError as error:
                if on_error == "raise":
                    raise
                return record, error
            if labels.shape != volume.shape:
                warnings.warn(
                    f"{record.mask_path}: mask shape {labels.shape} differs from the volume's "
                    f"{volume.shape}; the mask is not used",
                    stacklevel=2,
                )
                labels = None
        images, slice_ids, masks = axial_slices(
            volume, image_size, slices_per_volume, slice_range, brain_fill, labels
        )
        return record, (images, slice_ids, masks, volume.shape)

    every = [record for split in SPLITS for record in per_split[split]]
    results = dict(
        (id(record), outcome)
        for record, outcome in _parallel_map(load, every, workers or min(4, os.cpu_count() or 1))
    )
    with_masks = any(record.mask_path is not None for record in records)
    skipped, shapes, splits = [], Counter(), {}
    for split in SPLITS:
        images, masks, present, subject_ids, slice_ids, files = [], [], [], [], [], []
        for record in per_split[split]:
            outcome = results[id(record)]
            if isinstance(outcome, UnreadableFileError):
                skipped.append({"file": str(outcome.path), "reason": outcome.reason})
                continue
            volume_images, volume_slice_ids, volume_masks, shape = outcome
            shapes["x".join(map(str, shape))] += 1
            count = len(volume_images)
            images.append(volume_images)
            if with_masks:
                has_mask = volume_masks is not None
                masks.append(volume_masks if has_mask else np.zeros_like(volume_images, np.uint8))
                present.append(np.full(count, has_mask))
            subject_ids.extend([record.subject] * count)
            slice_ids.append(volume_slice_ids)
            files.extend([str(record.path)] * count)
        if not images:
            splits[split] = _empty_split(image_size, with_masks)
            continue
        splits[split] = SliceSplit(
            images=np.concatenate(images)[..., None],
            subject_ids=np.array(subject_ids, dtype=str),
            slice_ids=np.concatenate(slice_ids).astype(np.int32),
            masks=np.concatenate(masks) if with_masks else None,
            files=files,
            mask_present=np.concatenate(present) if with_masks else None,
        )
    _warn_skipped(skipped)
    missing_masks = [str(r.path) for r in records if with_masks and r.mask_path is None]
    missing_masks += [  # loaded volumes whose mask could not be used
        str(record.path)
        for record in every
        if with_masks
        and record.mask_path is not None
        and not isinstance(results[id(record)], UnreadableFileError)
        and results[id(record)][2] is None
    ]
    info = {
        "source_counts": {split: (None if smoke else len(splits[split])) for split in SPLITS},
        "source_subjects": {split: len(assignment[split]) for split in SPLITS},
        "source_subject_ids": assignment,
        "volumes_found": len(records),
        "original_sizes": dict(shapes),
        "resized": int(sum(len(split) for split in splits.values())),  # every slice is framed
        "missing_masks": missing_masks,
        "ignored_files": [str(path) for path in ignored],
        "skipped": skipped,
        "split_fractions": list(split_fractions),
        "slices_per_volume": slices_per_volume,
        "slice_range": list(slice_range),
        "load_seconds": time.perf_counter() - begin,
    }
    source = SliceSource(layout, root, image_size, splits, info=info)
    source.info = inspect_source(source)
    return source


# ============================================================================ demo


def load_demo_slices(
    image_size: int = 256,
    seed: int = 42,
    smoke: bool = False,
    use_cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    **demo_overrides,
) -> SliceSource:
    """The embedded demo cohort as a :class:`SliceSource` (a stand-in, not OASIS).

    ``demo_overrides`` replace :class:`oasis_helpers.demo.DemoConfig` fields
    (e.g. ``subjects={"train": 48, "validate": 8, "test": 8}``).
    """
    from oasis_helpers import demo

    begin = time.perf_counter()
    config = demo.demo_config(image_size=image_size, seed=seed, smoke=smoke, **demo_overrides)
    cohort = demo.build_demo_cohort(config, use_cache=use_cache, cache_folder=cache_dir)
    splits = {}
    for split in SPLITS:
        images = np.multiply(
            cohort.images[split][..., None], np.float32(1.0 / 255.0), dtype=np.float32
        )
        subject_ids = cohort.subject_ids[split]
        slice_ids = cohort.slice_ids[split]
        splits[split] = SliceSplit(
            images=images,
            subject_ids=subject_ids,
            slice_ids=slice_ids,
            masks=cohort.masks[split],
            files=[f"demo/{s}/slice_{k:02d}" for s, k in zip(subject_ids, slice_ids, strict=True)],
            mask_present=np.ones(len(images), bool),
        )
    info = {
        "source_counts": {split: len(splits[split]) for split in SPLITS},
        "source_subjects": {split: len(splits[split].subjects) for split in SPLITS},
        "source_subject_ids": {split: splits[split].subjects for split in SPLITS},
        "original_sizes": {f"{image_size}x{image_size}": sum(len(s) for s in splits.values())},
        "resized": 0,
        "missing_masks": [],
        "ignored_files": [],
        "skipped": [],
        "demo_config": {
            "subjects": dict(config.subjects),
            "slices_per_subject": config.slices_per_subject,
            "key": config.key(),
        },
        "demo_from_cache": cohort.from_cache,
        "demo_build_seconds": cohort.seconds,
        "demo_cache_file": str(cohort.path) if cohort.path else None,
        "load_seconds": time.perf_counter() - begin,
    }
    source = SliceSource("demo", None, image_size, splits, info=info)
    source.info = inspect_source(source)
    return source


# ============================================================================ entry points


def load_slices(
    data_dir: str | os.PathLike | None = None,
    image_size: int = 256,
    seed: int = 42,
    smoke: bool = False,
    on_error: str = "raise",
    *,
    split_fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
    slices_per_volume: int | None = 32,
    slice_range: tuple[float, float] = (0.3, 0.85),
    brain_fill: float = 0.72,
    workers: int | None = None,
    use_cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    **demo_overrides,
) -> SliceSource:
    """Load the slices of whatever supported layout ``data_dir`` holds.

    Args:
        data_dir: a folder in one of the layouts of :data:`LAYOUT_TREES`, or
            ``None`` for the embedded demo cohort (a stand-in, not OASIS).
        image_size: side of the square output slices.
        seed: seeds the subject split of volumes and the demo cohort.
        smoke: a tiny source (3 / 1 / 1 subjects, 8 slices each) for quick tests.
        on_error: ``"raise"`` on the first unreadable file (the error names it),
            or ``"skip"`` unreadable files with one warning that counts them.
        split_fractions: train / validate / test fractions of subjects (volumes).
        slices_per_volume: evenly spaced axial slices per volume (``None``: all).
        slice_range: kept part of each brain's inferior-superior extent (volumes).
        brain_fill: fraction of the frame that a volume's brain spans.
        workers: threads for decoding / reading (default from the CPU count).
        use_cache, cache_dir: the demo cohort's on-disk cache.
        demo_overrides: fields of :class:`oasis_helpers.demo.DemoConfig` (demo only).

    Returns:
        A :class:`SliceSource`; ``source.info`` is its :func:`inspect_source` summary.

    Raises:
        DataLayoutError: ``data_dir`` is missing, empty or in no supported layout.
        UnreadableFileError: a file is truncated, corrupt or holds NaN / inf voxels.
    """
    _check_on_error(on_error)
    if int(image_size) < 8:
        raise ValueError(f"image_size must be at least 8 pixels, got {image_size}")
    image_size = int(image_size)
    if demo_overrides and data_dir is not None:
        raise TypeError(
            f"options {sorted(demo_overrides)} only apply to the demo cohort (data_dir=None)"
        )
    layout, root = detect_layout(data_dir)
    if layout == "demo":
        return load_demo_slices(
            image_size, seed, smoke, use_cache=use_cache, cache_dir=cache_dir, **demo_overrides
        )
    if layout == "png_slices":
        return load_png_slices(root, image_size, smoke=smoke, on_error=on_error, workers=workers)
    return load_volume_slices(
        root,
        layout,
        image_size=image_size,
        seed=seed,
        smoke=smoke,
        on_error=on_error,
        split_fractions=split_fractions,
        slices_per_volume=slices_per_volume,
        slice_range=slice_range,
        brain_fill=brain_fill,
        workers=workers,
    )


def inspect_source(source: SliceSource) -> dict:
    """Summarise a source: what a user checks before training on it.

    Returns a dict with ``layout``, ``label``, ``stand_in``, ``root``,
    ``image_size``, ``counts`` (slices loaded per split), ``subjects`` (subjects
    loaded per split), ``subject_ids``, ``source_counts`` / ``source_subjects``
    (what the source holds, also when ``smoke`` loaded less), ``original_sizes``
    and ``resized`` (how many images had another size), ``intensity_min`` /
    ``intensity_max`` / ``intensity_mean`` of the loaded images, ``has_masks``,
    ``missing_masks``, ``skipped`` and ``ignored_files``, plus what the loader
    recorded while scanning (e.g. ``color_modes``, ``load_seconds``).
    """
    info = dict(source.info)
    splits = source.splits
    loaded = [split.images for split in splits.values() if len(split)]
    minimum = min((float(images.min()) for images in loaded), default=0.0)
    maximum = max((float(images.max()) for images in loaded), default=0.0)
    total = sum(len(split) for split in splits.values())
    mean = sum(float(split.images.sum(dtype=np.float64)) for split in splits.values()) / max(
        total * source.image_size**2, 1
    )
    all_subjects = [subject for split in splits.values() for subject in split.subjects]
    info.update(
        layout=source.layout,
        label=source.label,
        stand_in=source.stand_in,
        root=str(source.root) if source.root is not None else None,
        image_size=source.image_size,
        counts={name: len(split) for name, split in splits.items()},
        subjects={name: len(split.subjects) for name, split in splits.items()},
        subject_ids={name: split.subjects for name, split in splits.items()},
        subjects_shared_between_splits=sorted(
            subject for subject, count in Counter(all_subjects).items() if count > 1
        ),
        intensity_min=minimum,
        intensity_max=maximum,
        intensity_mean=mean,
        has_masks=any(split.masks is not None for split in splits.values()),
    )
    info.setdefault("source_counts", dict(info["counts"]))
    info.setdefault("source_subjects", dict(info["subjects"]))
    for key in ("missing_masks", "ignored_files", "skipped"):
        info.setdefault(key, [])
    info["missing_mask_count"] = len(info["missing_masks"])
    info["skipped_count"] = len(info["skipped"])
    info["ignored_count"] = len(info["ignored_files"])
    return info


def describe(source: SliceSource) -> str:
    """A short multi-line text summary of a source (for notebook printouts)."""
    info = source.info or inspect_source(source)
    lines = [f"{info['label']}", f"  layout: {info['layout']}   root: {info['root']}"]
    for split in SPLITS:
        lines.append(
            f"  {split:>8}: {info['counts'][split]:6d} slices from "
            f"{info['subjects'][split]:4d} subjects"
            + (
                f"  (source holds {info['source_counts'][split]} slices, "
                f"{info['source_subjects'][split]} subjects)"
                if info["source_counts"].get(split) not in (None, info["counts"][split])
                or info["source_subjects"].get(split) != info["subjects"][split]
                else ""
            )
        )
    lines.append(
        f"  image size {info['image_size']}, intensities in "
        f"[{info['intensity_min']:.3f}, {info['intensity_max']:.3f}], masks: {info['has_masks']}"
    )
    lines.append(
        f"  original sizes {info.get('original_sizes')}, resized {info.get('resized', 0)}, "
        f"skipped {info['skipped_count']}, missing masks {info['missing_mask_count']}, "
        f"ignored files {info['ignored_count']}"
    )
    return "\n".join(lines)


# ============================================================================ tf.data


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


def _split_tensor(split: SliceSplit, name: str, dtype):
    """The split's ``images`` or ``masks`` as a TensorFlow tensor, converted once.

    ``tf.convert_to_tensor`` copies a NumPy array; keeping the copy on the split
    means that building several pipelines over one split (training, evaluation,
    timing) costs the memory of one copy, not one per pipeline. A new array
    assigned to the field is converted again.
    """
    import tensorflow as tf

    array = getattr(split, name)
    cache = split.__dict__.setdefault("_tensor_cache", {})
    entry = cache.get(name)
    if entry is None or entry[0] is not array:
        cache[name] = (array, tf.convert_to_tensor(array, dtype=dtype))
    return cache[name][1]


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
    slices (and masks) of each batch at once -> optional augmentation
    (:func:`augment_batch`, seeded and stateless) -> ``prefetch(AUTOTUNE)``.
    Shuffling indices instead of images keeps memory flat (no shuffle buffer of
    images), and gathering a whole batch in one op keeps the pipeline far
    faster than a model can train. The split is already decoded, resized and
    scaled (what :func:`load_slices` does, in parallel), so caching would only
    copy it; :func:`make_file_dataset` is the streaming version that decodes
    PNG files in the pipeline and caches them.

    Args:
        split: a :class:`SliceSplit`.
        batch_size: slices per batch.
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

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if len(split) == 0:
        raise ValueError("cannot make a dataset from an empty split")
    if with_masks and split.masks is None:
        raise ValueError("with_masks=True but this split has no masks")
    images = _split_tensor(split, "images", tf.float32)
    masks = _split_tensor(split, "masks", tf.uint8) if with_masks else None
    size = int(split.images.shape[1])
    shift = size // 32 if max_shift is None else int(max_shift)

    dataset = tf.data.Dataset.range(len(split))
    if shuffle:
        dataset = dataset.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)

    def gather(indices):
        if with_masks:
            return tf.gather(images, indices), tf.gather(masks, indices)
        return tf.gather(images, indices)

    if augment:
        seeds = tf.data.Dataset.random(seed=seed).batch(2, drop_remainder=True)

        def transform(indices, pair):
            batch_masks = tf.gather(masks, indices) if with_masks else None
            return augment_batch(
                tf.gather(images, indices), batch_masks, pair, shift, intensity_jitter
            )

        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
    else:
        dataset = dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
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
    pad to a square and resize to ``image_size`` -> scale to ``[0, 1]`` float32
    ``[H, W, 1]`` -> cache (in memory, or in a file when ``cache`` is a path) ->
    seeded shuffle -> repeat -> batch -> augmentation -> ``prefetch(AUTOTUNE)``.
    Use it for data that does not fit in memory; :func:`load_slices` +
    :func:`make_dataset` is the default path of the series.
    """
    import tensorflow as tf

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
        return tf.ensure_shape(tf.clip_by_value(image, 0.0, 1.0), [image_size, image_size, 1])

    dataset = tf.data.Dataset.from_tensor_slices([str(path) for path in files])
    dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:
        dataset = dataset.cache(cache if isinstance(cache, str) else "")
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
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
