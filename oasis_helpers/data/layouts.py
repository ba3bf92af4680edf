"""What a data folder looks like: the supported layouts, their detection, and the errors.

Four sources are supported, detected from the folder the user points at
(``data_dir``; :data:`LAYOUT_TREES` draws the folder trees): ``png_slices``
(the preprocessed OASIS PNG slices), ``oasis1_analyze`` (OASIS-1 Analyze 7.5
volumes), ``nifti`` (any folder of NIfTI volumes) and ``demo`` (``data_dir=None``:
the embedded demo cohort, a stand-in, not OASIS).
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

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


# ============================================================================ detection


def natural_key(text: str) -> list:
    """Sort key that orders ``case_2`` before ``case_10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def is_visible(path: Path) -> bool:
    """False for hidden files and folders (``.DS_Store``, ``._case_1.png`` from macOS)."""
    return not path.name.startswith(".")


def repository_root() -> Path | None:
    """The repository root (the folder holding ``pyproject.toml`` above this package), if any.

    The one place this question is answered: ``oasis_helpers.runs.project_root`` uses
    it for run folders (``data`` itself depends on nothing else in the package).
    """
    candidate = Path(__file__).resolve().parents[2]
    return candidate if (candidate / "pyproject.toml").exists() else None


def _resolve_data_dir(data_dir: str | os.PathLike) -> Path:
    """Expand ``~``; a relative path missing from the working directory is tried
    relative to the repository root (JupyterLab starts kernels in ``notebooks/``)."""
    path = Path(data_dir).expanduser()
    if not path.is_absolute() and not path.exists():
        root = repository_root()
        if root is not None and (root / path).exists():
            return root / path
    return path


def _png_root(path: Path) -> Path | None:
    """The folder holding ``keras_png_slices_*`` folders: ``path`` or a child of it."""

    def holds_png_splits(folder: Path) -> bool:
        return any((folder / f"keras_png_slices_{split}").is_dir() for split in SPLITS)

    if holds_png_splits(path):
        return path
    children = sorted(child for child in path.iterdir() if child.is_dir() and is_visible(child))
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


def oasis1_images(path: Path) -> list[Path]:
    """The OASIS-1 ``*_t88_masked_gfc.img`` volumes at or below ``path`` (a session, a disc,
    the folder of discs or one above), in natural order."""
    found: set[Path] = set()
    for pattern in _OASIS1_PATTERNS:
        found.update(candidate for candidate in path.glob(pattern) if is_visible(candidate))
    return sorted(found, key=lambda candidate: natural_key(str(candidate)))


_MASK_NAME = re.compile(r"(^|[_\-.])(seg|dseg|fseg|mask|label|labels|probseg|aseg)([_\-.]|$)")


def nifti_files(path: Path) -> tuple[list[Path], list[Path]]:
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
    key = lambda candidate: natural_key(str(candidate))  # noqa: E731
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
    entries = [entry for entry in path.iterdir() if is_visible(entry)]
    if not entries:
        raise DataLayoutError(f"data_dir {path} is empty.\n\n{LAYOUT_TREES}")
    png_root = _png_root(path)
    if png_root is not None:
        return "png_slices", png_root
    if oasis1_images(path):
        return "oasis1_analyze", path
    if nifti_files(path)[0]:
        return "nifti", path
    examples = ", ".join(sorted(entry.name for entry in entries)[:5])
    hint = ""
    if re.match(r"keras_png_slices_", path.name):
        hint = f" It looks like one split folder: pass its parent, {path.parent}, instead."
    raise DataLayoutError(
        f"no supported data found in {path} (it holds {len(entries)} entries, e.g. "
        f"{examples}).{hint}\n\n{LAYOUT_TREES}"
    )


# ============================================================================ loader options


def check_on_error(on_error: str) -> None:
    """The loaders' ``on_error``: ``"raise"`` or ``"skip"`` (unreadable files), else ValueError."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")


def warn_skipped(skipped: list[dict]) -> None:
    """One warning that counts the skipped files and names the first three."""
    if skipped:
        examples = "; ".join(f"{item['file']} ({item['reason']})" for item in skipped[:3])
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        warnings.warn(f"skipped {len(skipped)} unreadable file(s): {examples}{more}", stacklevel=3)
