"""Finding, loading and inspecting OASIS brain MRI slices, and feeding them to a model.

Four sources are supported, detected from the folder the user points at
(``data_dir``; :data:`LAYOUT_TREES` draws the folder trees):

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

:func:`load_slices` returns a :class:`SliceSource` whose splits store the slices
as 8-bit pixels, uint8 ``[N, S, S, 1]`` (``image = pixels / 255``; a quarter of
the memory of float32). Float32 images in ``[0, 1]`` are made only where they
are used: per batch by :func:`make_dataset` (a shuffled, optionally augmented,
batched ``tf.data`` pipeline), :func:`brain_crops` and :func:`sample_patches`,
or for chosen slices with ``split.float_images(indices)``.

:func:`load_lesion_dir` reads the user's own annotated lesions for notebook 05's evaluation:
PNG slices (``lesion_dir/images`` and ``lesion_dir/masks``, files of the same names), or
NIfTI volumes with their masks (``<subject>_image.nii.gz`` / ``<subject>_mask.nii.gz``
pairs, or BraTS-style subject folders with a T1 and a ``seg`` volume).

Modules, one idea each:

* :mod:`~oasis_helpers.data.layouts`: the layouts, their detection, the errors;
* :mod:`~oasis_helpers.data.containers`: :class:`SliceSplit`, :class:`SliceSource`,
  the 8-bit storage;
* :mod:`~oasis_helpers.data.png`: checking and decoding the OASIS PNG slices;
* :mod:`~oasis_helpers.data.volumes`: Analyze / NIfTI volumes, subject splits,
  reorientation, axial slices;
* :mod:`~oasis_helpers.data.slicing`: which axial slices a volume gives and how they are
  framed (the defaults the volume loaders and the demo cohort share);
* :mod:`~oasis_helpers.data.demo_slices`: the demo cohort as a source;
* :mod:`~oasis_helpers.data.summary`: :func:`inspect_source`, :func:`describe` and
  :func:`loader_metrics`;
* :mod:`~oasis_helpers.data.loading`: :func:`load_slices`, the entry point;
* :mod:`~oasis_helpers.data.lesion_dir`: :func:`load_lesion_dir`, annotated lesion slices;
* :mod:`~oasis_helpers.data.pipeline`: ``tf.data`` pipelines, augmentation,
  brain crops and patch samples;
* :mod:`~oasis_helpers.data.resampling` and :mod:`~oasis_helpers.data.workers`:
  resizing and threads shared by the loaders.

Nothing here imports a model, ``runs`` or a plotting library; TensorFlow is
imported only inside the pipeline functions.
"""

from oasis_helpers.data.containers import (
    PIXEL_SCALE,
    FloatImages,
    SliceSource,
    SliceSplit,
    floats_from_pixels,
    pixels_from_floats,
)
from oasis_helpers.data.demo_slices import load_demo_slices
from oasis_helpers.data.layouts import (
    LAYOUT_LABELS,
    LAYOUT_TREES,
    LAYOUTS,
    MASK_LABELS,
    SMOKE_SLICES_PER_SUBJECT,
    SMOKE_SUBJECTS,
    SPLIT_FRACTIONS,
    SPLITS,
    DataLayoutError,
    UnreadableFileError,
    detect_layout,
)
from oasis_helpers.data.lesion_dir import (
    LESION_DIR_LAYOUT,
    LesionDirError,
    LesionSlices,
    load_lesion_dir,
)
from oasis_helpers.data.loading import MIN_IMAGE_SIZE, load_slices
from oasis_helpers.data.pipeline import (
    augment_batch,
    brain_crops,
    make_dataset,
    make_file_dataset,
    measure_pipeline,
    sample_patches,
    to_float,
)
from oasis_helpers.data.png import load_png_slices
from oasis_helpers.data.resampling import mask_values_to_labels
from oasis_helpers.data.slicing import (
    DEFAULT_BRAIN_FILL,
    DEFAULT_SLICE_RANGE,
    DEFAULT_SLICES_PER_VOLUME,
    VOLUME_BRAIN_THRESHOLD,
    slice_heights,
)
from oasis_helpers.data.summary import describe, inspect_source, loader_metrics
from oasis_helpers.data.volumes import (
    VolumeRecord,
    axial_slices,
    find_nifti_volumes,
    find_oasis1_volumes,
    load_volume_slices,
    read_volume,
    scale_intensity,
    split_subjects,
)

__all__ = [
    "DEFAULT_BRAIN_FILL",
    "DEFAULT_SLICES_PER_VOLUME",
    "DEFAULT_SLICE_RANGE",
    "LAYOUTS",
    "LESION_DIR_LAYOUT",
    "LAYOUT_LABELS",
    "LAYOUT_TREES",
    "MASK_LABELS",
    "MIN_IMAGE_SIZE",
    "PIXEL_SCALE",
    "SMOKE_SLICES_PER_SUBJECT",
    "SMOKE_SUBJECTS",
    "SPLITS",
    "SPLIT_FRACTIONS",
    "VOLUME_BRAIN_THRESHOLD",
    "DataLayoutError",
    "FloatImages",
    "LesionDirError",
    "LesionSlices",
    "SliceSource",
    "SliceSplit",
    "UnreadableFileError",
    "VolumeRecord",
    "augment_batch",
    "axial_slices",
    "brain_crops",
    "describe",
    "detect_layout",
    "find_nifti_volumes",
    "find_oasis1_volumes",
    "floats_from_pixels",
    "inspect_source",
    "load_demo_slices",
    "load_lesion_dir",
    "load_png_slices",
    "load_slices",
    "load_volume_slices",
    "loader_metrics",
    "make_dataset",
    "make_file_dataset",
    "mask_values_to_labels",
    "measure_pipeline",
    "pixels_from_floats",
    "read_volume",
    "sample_patches",
    "scale_intensity",
    "slice_heights",
    "split_subjects",
    "to_float",
]
