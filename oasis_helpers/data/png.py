"""The preprocessed OASIS PNG slices (``keras_png_slices_data``): checks, decoding, loading.

Every PNG is first scanned cheaply (its header and the end of the file), so sizes,
colour modes, truncated files and missing masks are reported for the whole data set;
then the slices are decoded in threads straight into one uint8 array per split.
"""

from __future__ import annotations

import os
import re
import struct
import time
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from oasis_helpers.data.containers import SliceSource, SliceSplit, pixels_from_floats
from oasis_helpers.data.layouts import (
    LAYOUT_TREES,
    SMOKE_SLICES_PER_SUBJECT,
    SMOKE_SUBJECTS,
    SPLITS,
    DataLayoutError,
    UnreadableFileError,
    check_on_error,
    is_visible,
    natural_key,
    warn_skipped,
)
from oasis_helpers.data.resampling import mask_values_to_labels, pad_and_resize
from oasis_helpers.data.summary import inspect_source
from oasis_helpers.data.workers import parallel_map

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


def decode_png(path: Path, image_size: int, as_mask: bool) -> npt.NDArray[Any]:
    """Decode one PNG to ``[image_size, image_size]``: intensities or uint8 labels.

    Intensities come as the raw uint8 pixels (0..255) for 8-bit images that
    already have the right size (the OASIS PNGs), else as float32 in [0, 1].

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
        return pad_and_resize(mask_values_to_labels(pixels), image_size, nearest=True)
    if pixels.dtype == np.uint8 and pixels.shape == (image_size, image_size):
        return pixels  # the common case: stored as they are
    if pixels.dtype == np.uint8:
        pixels = pixels.astype(np.float32) / 255.0
    return np.clip(pad_and_resize(pixels, image_size), 0.0, 1.0).astype(np.float32)


def _list_png_folder(folder: Path) -> tuple[list[_PngEntry], list[str]]:
    """PNG entries of one folder (natural order) and the names of ignored files."""
    pngs, ignored = [], []
    for item in sorted(folder.iterdir(), key=lambda path: natural_key(path.name)):
        if item.is_file() and is_visible(item) and item.suffix.lower() == ".png":
            pngs.append(item)
        elif item.is_file():
            ignored.append(item.name)
    entries = []
    for position, path in enumerate(pngs):
        subject, slice_id = _parse_png_name(path, position)
        entries.append(_PngEntry(path=path, subject=subject, slice_id=slice_id))
    entries.sort(key=lambda entry: (natural_key(entry.subject), entry.slice_id))
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


def load_png_slices(
    root: str | os.PathLike,
    image_size: int = 256,
    smoke: bool = False,
    on_error: str = "raise",
    workers: int | None = None,
    with_masks: bool = True,
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
        with_masks: load the ``keras_png_slices_seg_*`` masks (False: ``masks`` is
            ``None``, which halves the memory of the source).

    Returns:
        A :class:`SliceSource` whose splits hold uint8 ``pixels`` ``[N, S, S, 1]``:
        the 8-bit PNGs exactly as stored (``image = pixels / 255``); 16-bit and
        resized images are rounded to 8 bits (within ``1 / 510``).

    Raises:
        DataLayoutError: a split folder is missing or holds no PNG.
        UnreadableFileError: a file is truncated or cannot be decoded (``"raise"``).
    """
    check_on_error(on_error)
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
        entries = parallel_map(_scan_png, entries, workers)
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
        has_masks = with_masks and mask_folder.is_dir()
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

        pixels = np.empty((len(selected), image_size, image_size, 1), np.uint8)
        masks = np.zeros((len(selected), image_size, image_size), np.uint8) if has_masks else None
        failures: dict[int, str] = {}

        def decode(
            slot: int,
            selected=selected,
            entries=entries,
            pixels=pixels,
            masks=masks,
            mask_paths=mask_paths,
            failures=failures,
        ):
            entry = entries[selected[slot]]
            try:
                decoded = decode_png(entry.path, image_size, as_mask=False)
                if decoded.dtype != np.uint8:  # 16-bit or resized: rounded to 8 bits
                    decoded = pixels_from_floats(decoded)
                pixels[slot, :, :, 0] = decoded
                mask_path = mask_paths[selected[slot]] if masks is not None else None
                if mask_path is not None:
                    masks[slot] = decode_png(mask_path, image_size, as_mask=True)
            except UnreadableFileError as error:
                if on_error == "raise":
                    raise
                failures[slot] = f"{error.path}: {error.reason}"

        parallel_map(decode, list(range(len(selected))), workers)
        keep_slots = [slot for slot in range(len(selected)) if slot not in failures]
        for _slot, reason in sorted(failures.items()):
            path, _, why = reason.partition(": ")
            scan["skipped"].append({"file": path, "reason": why})
        if failures:
            pixels = pixels[keep_slots]
            masks = masks[keep_slots] if masks is not None else None
        chosen = [entries[selected[slot]] for slot in keep_slots]
        present = None
        if has_masks:
            present = np.array([mask_paths[selected[slot]] is not None for slot in keep_slots])
        splits[split] = SliceSplit(
            pixels=pixels,
            subject_ids=np.array([entry.subject for entry in chosen], dtype=str),
            slice_ids=np.array([entry.slice_id for entry in chosen], dtype=np.int32),
            masks=masks,
            files=[str(entry.path) for entry in chosen],
            mask_present=present,
        )

    warn_skipped(scan["skipped"])
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
