"""Small data sets and stand-in models that more than one test module uses.

The writers make small but real OASIS-style data sets: genuine files (PNG with Pillow,
Analyze 7.5 and NIfTI with nibabel) in the folder layouts that :mod:`oasis_helpers.data`
detects, filled with a brain-like phantom: an ellipsoid of "white matter" inside a "grey
matter" shell, with dark "CSF" ventricles, on a zero background (like skull-stripped
OASIS data).

The rest, at the end: the tiny VQ-VAE settings and a SliceSource look-alike (models and
code grids), tiny untrained PixelCNN priors over :data:`PRIOR_CODES` codes with their
code grids (prior, restoration, blind-spot model), a block-mean stand-in VQ-VAE with
disc slices (anomaly maps), the tiny VQ-VAE, images and settings of the training
tests, a quantizer layer with a given codebook (quantizer tests), flat code grids
(blind-spot tests), a tiny demo cohort's configuration (demo tests), textured "brains" on
black (metrics tests), the texts of a figure (diagram tests), the anatomy judge's tiny
cohort (judge tests) and the readers of a notebook's sections and exercises (course
tests). They import
``oasis_helpers`` (and TensorFlow, matplotlib) only when called.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np

PNG_SPLITS = ("train", "validate", "test")
#: Side of the slices that the data tests load (the phantoms' own size).
SLICE_SIZE = 64
#: A tiny demo cohort (``data.load_slices(None, image_size=..., **TINY_DEMO)``): 2, 1 and 1
#: subjects of 3 slices.
TINY_DEMO = {"subjects": {"train": 2, "validate": 1, "test": 1}, "slices_per_subject": 3}
MASK_VALUES = np.array([0, 85, 170, 255], np.uint8)  # background, CSF, grey, white matter

#: The tiny VQ-VAE of the model and code-grid tests: 32x32 slices, an 8x8 grid of 16 codes.
TINY_VQVAE = {
    "image_size": 32,
    "channels": (8, 16),
    "num_residual_blocks": 1,
    "residual_channels": 8,
    "num_embeddings": 16,
    "embedding_dim": 4,
}


def phantom_volume(
    shape: tuple[int, int, int] = (44, 52, 44), seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A brain-like 3D phantom and its tissue labels.

    Returns:
        ``(intensity, labels)``: float32 ``shape`` with values in about
        ``[0, 1000]`` (zero background) and uint8 ``shape`` labels
        0 background, 1 CSF, 2 grey matter, 3 white matter.
    """
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(-1.0, 1.0, size) for size in shape], indexing="ij")
    radii = np.array([0.75, 0.85, 0.8]) * rng.uniform(0.9, 1.05, size=3)
    radius = np.sqrt(sum((grid / r) ** 2 for grid, r in zip(grids, radii, strict=True)))
    ventricles = np.sqrt((grids[0] / 0.12) ** 2 + (grids[1] / 0.3) ** 2 + (grids[2] / 0.2) ** 2)
    labels = np.zeros(shape, np.uint8)
    labels[radius < 1.0] = 2
    labels[radius < 0.8] = 3
    labels[(ventricles < 1.0) & (radius < 0.8)] = 1
    intensity = np.choose(labels, [0.0, 250.0, 600.0, 900.0]).astype(np.float32)
    intensity += (labels > 0) * rng.normal(0.0, 15.0, size=shape).astype(np.float32)
    return np.clip(intensity, 0.0, None), labels


def phantom_slice(size: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 2D brain-like slice: uint8 ``[size, size]`` intensities and mask pixel values.

    The mask uses the OASIS PNG values 0, 85, 170, 255.
    """
    volume, labels = phantom_volume((size, size, 5), seed)
    image = np.clip(volume[:, :, 2] / 1000.0 * 255.0, 0, 255).astype(np.uint8)
    return image, MASK_VALUES[labels[:, :, 2]]


def no_subject_in_two_splits(source) -> None:
    """Assert that no subject of a ``data.SliceSource`` has slices in two splits."""
    seen = {split: set(source.splits[split].subject_ids.tolist()) for split in PNG_SPLITS}
    assert not seen["train"] & seen["validate"]
    assert not seen["train"] & seen["test"]
    assert not seen["validate"] & seen["test"]
    assert source.info["subjects_shared_between_splits"] == []


def check_slice_split(split, size: int = SLICE_SIZE) -> None:
    """Assert that a ``data.SliceSplit`` holds 8-bit slices of ``size`` whose float images
    are ``pixels / 255``, with a subject, a slice id and a file per slice."""
    from oasis_helpers import data

    assert split.pixels.dtype == np.uint8  # stored as 8 bits
    assert split.pixels.shape[1:] == (size, size, 1)
    assert split.images.dtype == np.float32 and split.images.shape == split.pixels.shape
    images = split.float_images()
    assert images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    np.testing.assert_array_equal(images, split.pixels * data.PIXEL_SCALE)
    assert split.slice_ids.dtype == np.int32
    assert len(split.subject_ids) == len(split.slice_ids) == len(split.files) == len(split)


def write_png(path: Path, array: np.ndarray, mode: str = "L") -> Path:
    """Write a uint8 gray array as a PNG in ``mode`` ("L", "RGB", "RGBA", "I;16")."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "L":
        image = Image.fromarray(array.astype(np.uint8), mode="L")
    elif mode in ("RGB", "RGBA"):
        channels = [array] * 3 + ([np.full_like(array, 255)] if mode == "RGBA" else [])
        image = Image.fromarray(np.stack(channels, axis=-1).astype(np.uint8), mode=mode)
    elif mode == "I;16":
        image = Image.fromarray(array.astype(np.uint16) * 257)
    else:
        raise ValueError(f"unsupported test mode {mode}")
    image.save(path)
    return path


def write_png_layout(
    root: Path,
    subjects: dict[str, list[str]] | None = None,
    slices: int = 4,
    size: int = 64,
    masks: bool = True,
    nested: bool = True,
) -> Path:
    """Write a ``keras_png_slices_data`` layout and return the folder holding the splits.

    Args:
        root: where to write.
        subjects: subject ids per split (default 3 / 2 / 2 subjects).
        slices: slices per subject (``case_<id>_slice_<k>.nii.png``).
        size: image side.
        masks: also write ``keras_png_slices_seg_*`` masks.
        nested: put the split folders in ``root/keras_png_slices_data`` (as the
            archive unpacks); otherwise directly in ``root``.
    """
    subjects = subjects or {
        "train": ["441", "442", "10"],
        "validate": ["500", "501"],
        "test": ["600", "601"],
    }
    base = root / "keras_png_slices_data" if nested else root
    for split in PNG_SPLITS:
        (base / f"keras_png_slices_{split}").mkdir(parents=True, exist_ok=True)
        if masks:
            (base / f"keras_png_slices_seg_{split}").mkdir(parents=True, exist_ok=True)
        for subject in subjects.get(split, []):
            for index in range(slices):
                image, mask = phantom_slice(
                    size, seed=zlib.crc32(f"{subject}-{index}".encode()) % 1000
                )
                name = f"{subject}_slice_{index}.nii.png"
                write_png(base / f"keras_png_slices_{split}" / f"case_{name}", image)
                if masks:
                    write_png(base / f"keras_png_slices_seg_{split}" / f"seg_{name}", mask)
    return base


def truncate(path: Path, keep: float = 0.5) -> Path:
    """Cut a file to ``keep`` of its length (a download that stopped half way)."""
    content = path.read_bytes()
    path.write_bytes(content[: max(1, int(len(content) * keep))])
    return path


def write_analyze(path_img: Path, volume: np.ndarray, dtype=np.int16) -> Path:
    """Write an Analyze 7.5 ``.hdr``/``.img`` pair (``path_img`` ends with ``.img``)."""
    import nibabel as nib

    path_img.parent.mkdir(parents=True, exist_ok=True)
    image = nib.AnalyzeImage(volume.astype(dtype), np.eye(4))
    nib.save(image, str(path_img))
    return path_img


def oasis1_session_folder(root: Path, disc: int, subject: str, session: int = 1) -> Path:
    return root / f"disc{disc}" / f"OAS1_{subject}_MR{session}"


def write_oasis1_layout(
    root: Path,
    subjects: list[str] | None = None,
    shape: tuple[int, int, int] = (44, 52, 44),
    per_disc: int = 3,
    second_sessions: tuple[str, ...] = (),
    fseg: bool = False,
    fourth_axis: bool = True,
) -> dict[str, Path]:
    """Write OASIS-1 cross-sectional volumes in their real folder layout.

    ``disc<k>/OAS1_<id>_MR<s>/PROCESSED/MPRAGE/T88_111/
    OAS1_<id>_MR<s>_mpr_n4_anon_111_t88_masked_gfc.{hdr,img}`` (and, with
    ``fseg``, ``FSL_SEG/..._fseg.{hdr,img}`` with labels 1..3). Like the real
    files, volumes carry a trailing axis of length 1 when ``fourth_axis``.

    Returns:
        ``{session name: .img path}``.
    """
    subjects = subjects or ["0001", "0002", "0003", "0004", "0005"]
    written = {}
    sessions = [(subject, 1) for subject in subjects]
    sessions += [(subject, 2) for subject in second_sessions]
    for position, (subject, session) in enumerate(sessions):
        disc = 1 + subjects.index(subject) // per_disc
        folder = oasis1_session_folder(root, disc, subject, session)
        name = f"OAS1_{subject}_MR{session}"
        volume, labels = phantom_volume(shape, seed=position)
        if fourth_axis:
            volume, labels = volume[..., None], labels[..., None]
        image_path = (
            folder
            / "PROCESSED"
            / "MPRAGE"
            / "T88_111"
            / (f"{name}_mpr_n4_anon_111_t88_masked_gfc.img")
        )
        write_analyze(image_path, volume)
        if fseg:
            write_analyze(
                folder / "FSL_SEG" / f"{name}_mpr_n4_anon_111_t88_masked_gfc_fseg.img",
                labels,
                dtype=np.uint8,
            )
        (folder / f"{name}.txt").write_text(f"SESSION ID: {name}\n")
        written[name] = image_path
    return written


def write_nifti(path: Path, volume: np.ndarray, affine: np.ndarray | None = None) -> Path:
    """Write a NIfTI-1 volume (``.nii`` or ``.nii.gz``)."""
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(
        nib.Nifti1Image(volume.astype(np.float32), np.eye(4) if affine is None else affine),
        str(path),
    )
    return path


def write_nifti_folder(
    root: Path, names: list[str] | None = None, shape: tuple[int, int, int] = (40, 48, 40)
) -> list[Path]:
    """Write a folder of NIfTI phantoms (names relative to ``root``)."""
    names = names or [
        "sub-01/anat/sub-01_T1w.nii.gz",
        "sub-02/anat/sub-02_T1w.nii.gz",
        "sub-03_T1w.nii",
        "more/sub-04_T1w.nii.gz",
        "sub-05_T1w.nii",
    ]
    return [
        write_nifti(root / name, phantom_volume(shape, seed=i)[0]) for i, name in enumerate(names)
    ]


#: Slices per split of the real ``keras_png_slices_data`` archive (32 per subject).
FULL_PNG_COUNTS = {"train": 9_664, "validate": 1_120, "test": 544}


def write_full_size_png_layout(
    root: Path,
    counts: dict[str, int] | None = None,
    slices_per_subject: int = 32,
    size: int = 256,
    distinct_volumes: int = 8,
    workers: int = 4,
) -> Path:
    """Write a ``keras_png_slices_data`` layout with the real archive's counts and sizes.

    ``counts`` slices per split (default :data:`FULL_PNG_COUNTS`: 9,664 / 1,120 / 544)
    of ``size`` x ``size`` 8-bit PNGs, ``slices_per_subject`` per subject, with seg
    masks. The phantom brains are ``distinct_volumes`` volumes reused across subjects
    (what matters for memory benchmarks is the number and size of the slices, not
    their variety). A folder already complete (same counts) is reused as it is.

    Returns:
        The ``keras_png_slices_data`` folder.
    """
    from concurrent.futures import ThreadPoolExecutor

    counts = dict(FULL_PNG_COUNTS if counts is None else counts)
    base = root / "keras_png_slices_data"
    done = base / ".complete"
    expected = f"{counts} {slices_per_subject} {size}"
    if done.exists() and done.read_text() == expected:
        return base
    volumes = [
        phantom_volume((size, size, slices_per_subject), seed=seed)
        for seed in range(distinct_volumes)
    ]
    jobs = []
    subject_number = 0
    for split in PNG_SPLITS:
        (base / f"keras_png_slices_{split}").mkdir(parents=True, exist_ok=True)
        (base / f"keras_png_slices_seg_{split}").mkdir(parents=True, exist_ok=True)
        for index in range(counts[split]):
            subject = subject_number + index // slices_per_subject
            jobs.append((split, subject, index % slices_per_subject))
        subject_number += -(-counts[split] // slices_per_subject)

    def write(job):
        split, subject, slice_index = job
        volume, labels = volumes[subject % distinct_volumes]
        image = np.clip(volume[:, :, slice_index] / 1000.0 * 255.0, 0, 255).astype(np.uint8)
        name = f"{subject}_slice_{slice_index}.nii.png"
        write_png(base / f"keras_png_slices_{split}" / f"case_{name}", image)
        write_png(
            base / f"keras_png_slices_seg_{split}" / f"seg_{name}",
            MASK_VALUES[labels[:, :, slice_index]],
        )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(write, jobs))
    done.write_text(expected)
    return base


def fake_source(images, uint8: bool = False):
    """A SliceSource look-alike: two splits of a few slices of made-up subjects."""
    stored = (np.round(images * 255).astype(np.uint8) if uint8 else images).copy()
    return SimpleNamespace(
        splits={
            "train": SimpleNamespace(
                images=stored[:5],
                subject_ids=np.array(["a", "a", "b", "a", "c"]),
                slice_ids=np.array([4, 2, 7, 3, 9], np.int32),
            ),
            "test": SimpleNamespace(
                images=stored[5:8],
                subject_ids=np.array(["d", "d", "d"]),
                slice_ids=np.array([10, 0, 5], np.int32),
            ),
        }
    )


# ---------------------------------------------------------------------------------------------
# tiny priors and a stand-in VQ-VAE
# ---------------------------------------------------------------------------------------------
#: The codebook size of the tiny priors.
PRIOR_CODES = 7


def tiny_prior(
    num_layers: int = 3,
    conditional: bool = False,
    kernel_size: int = 3,
    seed: int = 1,
    coordinates: bool = True,
    dilations=(1,),
):
    """An untrained :class:`oasis_helpers.prior.GatedPixelCNN` over :data:`PRIOR_CODES`
    codes with 8 channels, seeded."""
    import keras

    from oasis_helpers import prior

    keras.utils.set_random_seed(seed)
    return prior.GatedPixelCNN(
        num_embeddings=PRIOR_CODES,
        hidden_channels=8,
        num_layers=num_layers,
        kernel_size=kernel_size,
        head_channels=8,
        conditional=conditional,
        coordinates=coordinates,
        dilations=dilations,
    )


def peaked_prior(conditional: bool = False, coordinates: bool = True, dilations=(1,), seed=1):
    """A :func:`tiny_prior` whose output layer is scaled up, so that its distributions are
    peaked like a trained one's (an untrained head gives nearly uniform ones, whose
    near-ties would make a comparison of draws hinge on rounding)."""
    model = tiny_prior(
        conditional=conditional, seed=seed, coordinates=coordinates, dilations=dilations
    )
    model.head_logits.kernel.assign(model.head_logits.kernel * 100.0)
    return model


def random_codes(count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Uniform code grids int32 ``[count, height, width]`` over :data:`PRIOR_CODES` codes."""
    return (
        np.random.default_rng(seed)
        .integers(0, PRIOR_CODES, (count, height, width))
        .astype(np.int32)
    )


def prior_slice_heights(model, count: int, value: float = 0.4):
    """``count`` equal heights for a conditional prior, ``None`` for an unconditional one."""
    return np.full(count, value, np.float32) if model.conditional else None


class BlockVQVAE:
    """A stand-in VQ-VAE: each 4x4 block's mean intensity quantised to one of
    :data:`PRIOR_CODES` levels."""

    factor = 4

    def encode(self, images):
        images = np.asarray(images, np.float32)[..., 0]
        count, height, width = images.shape
        blocks = images.reshape(count, height // 4, 4, width // 4, 4).mean(axis=(2, 4))
        return np.minimum((blocks * PRIOR_CODES).astype(np.int32), PRIOR_CODES - 1)

    def decode(self, codes):
        levels = (np.asarray(codes, np.float32) + 0.5) / PRIOR_CODES
        return np.repeat(np.repeat(levels, 4, axis=1), 4, axis=2)[..., None]

    def reconstruct(self, images):
        return self.decode(self.encode(images))


def disc_slices(count: int = 2, size: int = 24, radius: float = 9, seed: int = 0) -> np.ndarray:
    """``count`` slices ``[count, size, size, 1]``: a centred disc of random intensities (each
    pixel its own, in ``[0.3, 0.9]``) on black."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    brain = (np.hypot(rows - size / 2, cols - size / 2) < radius).astype(np.float32)
    return (brain * rng.uniform(0.3, 0.9, (count, size, size)))[..., None].astype(np.float32)


# ---------------------------------------------------------------------------------------------
# the tiny VQ-VAE of the training tests (tests of oasis_helpers.training, plots.training_curves)
# ---------------------------------------------------------------------------------------------
#: :data:`TINY_VQVAE` with a fixed seed for its data initialisation (repeatable runs).
TRAINING_VQVAE = {**TINY_VQVAE, "quantizer_options": {"seed": 7}}

#: Data and training settings of a run (``fit(..., settings=RUN_SETTINGS)``).
RUN_SETTINGS = {"data_dir": None, "crop_size": 32, "batch_size": 8, "seed": 42, "epochs": 1}


def bright_disks(count: int, size: int, seed: int = 0) -> np.ndarray:
    """``count`` bright disks of random intensity and radius on black, float32 [N, S, S, 1]."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    radius = rng.uniform(0.2, 0.4, (count, 1, 1)) * size
    disk = ((rows - size / 2) ** 2 + (cols - size / 2) ** 2 < radius**2).astype(np.float32)
    return (disk * rng.uniform(0.3, 0.9, (count, 1, 1)))[..., None].astype(np.float32)


def batches(images, batch_size: int = 8):
    """``len(images) / batch_size`` batches per epoch in a fixed order (repeatable runs)."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(images).batch(batch_size)


def training_vqvae(seed: int = 0, learning_rate: float = 2e-3, **overrides):
    """A compiled :data:`TRAINING_VQVAE` (with ``overrides``) that runs eagerly: no graph
    tracing, so the file mechanics of ``training.fit`` are tested fast."""
    import keras

    from oasis_helpers import models

    keras.utils.set_random_seed(seed)
    return models.make_vqvae(
        learning_rate=learning_rate, run_eagerly=True, **dict(TRAINING_VQVAE, **overrides)
    )


def weights_of(model) -> list[np.ndarray]:
    """Every weight of ``model`` as a NumPy array (to compare two models)."""
    return [np.asarray(weight) for weight in model.weights]


# ---------------------------------------------------------------------------------------------
# a quantizer layer with a given codebook (tests of oasis_helpers.quantizer)
# ---------------------------------------------------------------------------------------------
def make_layer(cls, codebook, **kwargs):
    """A quantizer with a given codebook and health options off unless asked."""
    kwargs.setdefault("init", None)
    kwargs.setdefault("dead_code_steps", None)
    codebook = np.asarray(codebook, dtype="float32")
    layer = cls(codebook.shape[0], codebook.shape[1], seed=7, **kwargs)
    layer.build((None, codebook.shape[1]))
    layer.set_codebook(codebook)
    return layer


# ---------------------------------------------------------------------------------------------
# flat code grids (tests of oasis_helpers.blind_spot)
# ---------------------------------------------------------------------------------------------
def flat_grids(count: int, size: int, seed: int) -> np.ndarray:
    """Grids that each hold one code everywhere: the surroundings say exactly what is in
    the middle."""
    values = np.random.default_rng(seed).integers(0, 4, count)
    return np.broadcast_to(values[:, None, None], (count, size, size)).astype(np.int32).copy()


# ---------------------------------------------------------------------------------------------
# a tiny demo cohort's configuration (tests of oasis_helpers.demo)
# ---------------------------------------------------------------------------------------------
def tiny_demo_config(seed=5, **overrides):
    """:data:`TINY_DEMO` at 64 x 64 pixels as a ``demo.DemoConfig``."""
    from oasis_helpers import demo

    return demo.demo_config(image_size=64, seed=seed, **{**TINY_DEMO, **overrides})


# ---------------------------------------------------------------------------------------------
# textured disks on black (tests of oasis_helpers.metrics)
# ---------------------------------------------------------------------------------------------
def brain_images(count: int = 3, size: int = 48, seed: int = 0) -> np.ndarray:
    """A bright textured disk (the "brain") on a black background: [N, size, size, 1]."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    disk = (rows - size / 2) ** 2 + (cols - size / 2) ** 2 < (size / 4) ** 2
    texture = 0.4 + 0.4 * rng.random((count, size, size))
    return (texture * disk)[..., None].astype(np.float32)


# ---------------------------------------------------------------------------------------------
# the texts of a figure (tests of oasis_helpers.plots.diagrams)
# ---------------------------------------------------------------------------------------------
def figure_texts(figure) -> list[str]:
    import matplotlib.text

    return [text.get_text() for text in figure.findobj(matplotlib.text.Text) if text.get_text()]


def figure_text(figure) -> str:
    return "\n".join(figure_texts(figure))


# ---------------------------------------------------------------------------------------------
# the anatomy judge's tiny cohort (tests of oasis_helpers.judge, plots.judge)
# ---------------------------------------------------------------------------------------------
#: Side of the judge tests' slices.
JUDGE_SIZE = 32


class AnatomySplit:
    """A ``data.SliceSplit`` look-alike of float images (``float_images``, ``subject_ids``,
    ``slice_ids``, ``masks``, ``mask_present``, ``len``)."""

    def __init__(self, images, masks, subject_ids, slice_ids, with_masks: bool = True):
        self.images = images
        self.masks = masks if with_masks else None
        self.mask_present = np.ones(len(images), bool) if with_masks else None
        self.subject_ids = subject_ids
        self.slice_ids = slice_ids

    def __len__(self) -> int:
        return len(self.images)

    def float_images(self, indices=None) -> np.ndarray:
        return self.images if indices is None else self.images[np.asarray(indices)]


def anatomy_cohort(
    subjects: int, slices: int = 12, size: int = JUDGE_SIZE, seed: int = 0, with_masks=True
) -> AnatomySplit:
    """Slices whose anatomy follows their height ``h`` (0 lowest, 1 highest), per subject:
    a head whose radius grows then shrinks with ``h`` (white matter inside a grey-matter
    shell), a CSF "ventricle" that shrinks with ``h`` and sits above the centre; each
    subject scaled and shifted a little, each slice with a little noise. Labels 0..3."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size].astype(np.float32)
    images, masks, subject_ids, slice_ids = [], [], [], []
    for subject in range(subjects):
        scale = rng.uniform(0.9, 1.1)
        shift = rng.uniform(-1.5, 1.5, 2)
        for index in range(slices):
            h = index / max(slices - 1, 1)
            radius = scale * size * (0.18 + 0.25 * np.sin(np.pi * (0.1 + 0.8 * h)))
            distance = np.hypot(rows - size / 2 - shift[0], cols - size / 2 - shift[1])
            ventricle = np.hypot(rows - size / 2 + radius * 0.3, cols - size / 2 - shift[1])
            mask = np.zeros((size, size), np.uint8)
            mask[distance < radius] = 2
            mask[distance < 0.7 * radius] = 3
            mask[ventricle < radius * 0.35 * (1.1 - h)] = 1
            image = np.choose(mask, [0.0, 0.2, 0.55, 0.85]).astype(np.float32)
            image = np.clip(image + rng.normal(0, 0.03, image.shape) * (mask > 0), 0, 1)
            images.append(image[..., None].astype(np.float32))
            masks.append(mask)
            subject_ids.append(f"s{seed}_{subject}")
            slice_ids.append(index)
    return AnatomySplit(
        np.stack(images),
        np.stack(masks),
        np.array(subject_ids),
        np.array(slice_ids, np.int32),
        with_masks,
    )


# ---------------------------------------------------------------------------------------------
# reading the notebooks as a course (tests/test_course_*.py)
# ---------------------------------------------------------------------------------------------
#: A numbered section heading of a notebook, ``## N. Title``.
SECTION = re.compile(r"^## (\d+)\. (.+)$", re.MULTILINE)


def notebook_cells(stem: str) -> list:
    """The cells of ``notebooks/<stem>.ipynb`` (nbformat v4)."""
    import nbformat

    root = Path(__file__).resolve().parent.parent
    return nbformat.read(root / "notebooks" / f"{stem}.ipynb", as_version=4).cells


def notebook_sections(cells) -> list[tuple[int, int, str]]:
    """``(cell index, number, title)`` of every numbered ``## N. Title`` heading, in order."""
    return [
        (index, int(match.group(1)), match.group(2).strip())
        for index, cell in enumerate(cells)
        if cell.cell_type == "markdown"
        for match in SECTION.finditer(cell.source)
    ]


def section_cells(cells, title: str) -> list:
    """The cells from the heading ``## N. <title>`` up to the next numbered heading."""
    sections = notebook_sections(cells)
    starts = [index for index, _, heading in sections if heading == title]
    assert len(starts) == 1, f"expected one section {title!r}, found {len(starts)}"
    later = [index for index, _, _ in sections if index > starts[0]]
    return cells[starts[0] : later[0] if later else len(cells)]


def is_solution(cell) -> bool:
    """A cell tagged ``solution`` (an exercise's code solution)."""
    return "solution" in cell.metadata.get("tags", [])


def is_hidden(cell) -> bool:
    """A cell whose source JupyterLab shows collapsed until opened."""
    return cell.metadata.get("jupyter", {}).get("source_hidden") is True


def notebook_function(stem: str, name: str, namespace: dict):
    """The function ``name`` as ``notebooks/<stem>.ipynb`` defines it, defined in
    ``namespace`` (the rest of its cell, which uses the notebook's variables, is not run)."""
    import ast

    for cell in notebook_cells(stem):
        if cell.cell_type != "code":
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                exec(compile(ast.Module([node], []), f"{stem}:{name}", "exec"), namespace)  # noqa: S102
                return namespace[name]
    raise AssertionError(f"{stem} defines no function {name}")


def check_exercises(cells, exercise_heading) -> None:
    """A notebook's "Exercises" section: 3-5 exercises numbered from 1 (headings matching
    ``exercise_heading``, a compiled pattern with the number as its group), each with a
    ``<details><summary>Solution</summary>`` block or a solution code cell after it (tagged
    ``solution``, source hidden); every solution cell lies in the section and is hidden."""
    exercises = section_cells(cells, "Exercises")
    found, solved = [], {}
    for cell in exercises:
        if cell.cell_type == "markdown":
            parts = exercise_heading.split(cell.source)
            for number, text in zip(parts[1::2], parts[2::2], strict=True):
                found.append(int(number))
                solved[int(number)] = "<details><summary>Solution</summary>" in text
            assert cell.source.count("<details>") == cell.source.count("</details>")
            assert cell.source.count("<details>") == cell.source.count(
                "<details><summary>Solution</summary>"
            )
        else:
            assert found, "a code cell before the first exercise"
            assert is_solution(cell), f"exercise {found[-1]}'s code cell is not tagged"
            assert is_hidden(cell), f"exercise {found[-1]}'s solution is not hidden"
            solved[found[-1]] = True
    assert found == list(range(1, len(found) + 1)) and 3 <= len(found) <= 5, found
    assert all(solved.values()), f"exercises without a solution: {solved}"
    tagged = [cell for cell in cells if is_solution(cell)]
    assert tagged and all(is_hidden(cell) for cell in tagged)
    assert all(any(cell is other for other in exercises) for cell in tagged)
