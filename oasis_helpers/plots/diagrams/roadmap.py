"""The roadmap of the five notebooks: what each teaches, writes and passes on (:data:`ROADMAP`,
:func:`draw_roadmap`).
"""

from __future__ import annotations

from oasis_helpers.plots import diagram_kit as kit
from oasis_helpers.plots.diagrams.shown import shown_values

__all__ = [
    "ROADMAP",
    "draw_roadmap",
]


ROADMAP = (
    {
        "stem": "01_data_loader",
        "title": "01 · data loader",
        "purpose": "OASIS (or the demo cohort) as 2D slices, split by subject",
        "writes": ("metrics.json", "figures"),
        "passes_on": "the source: data_dir, image_size, seed; every later notebook\n"
        "loads the same slices and splits with data.load_slices",
        "passed_files": (),
    },
    {
        "stem": "02_vector_quantizer",
        "title": "02 · vector quantizer",
        "purpose": "nearest code, straight-through gradient, losses, codebook health",
        "writes": ("metrics.json", "figures"),
        "passes_on": "the quantizer layer and its defaults, through the package\n"
        "(quantizer.VectorQuantizerEMA: β = {commitment_cost:g}, "
        "decay {ema_decay:g})",
        "passed_files": (),
    },
    {
        "stem": "03_train_vqvae",
        "title": "03 · train the VQ-VAE",
        "purpose": "encoder → quantizer → decoder; every slice as a grid of codes",
        "writes": ("vqvae.keras", "codes.npz", "metrics.json", "training/<hash>/", "figures"),
        "passes_on": "vqvae.keras, codes.npz",
        "passed_files": ("vqvae.keras", "codes.npz"),
    },
    {
        "stem": "04_pixelcnn_prior",
        "title": "04 · PixelCNN prior",
        "purpose": "a gated PixelCNN learns p(code grid) and samples new slices",
        "writes": ("prior.keras", "samples.npz", "metrics.json", "training/<hash>/", "figures"),
        "passes_on": "prior.keras  (and from 03: vqvae.keras, codes.npz)",
        "passed_files": ("prior.keras", "vqvae.keras", "codes.npz"),
    },
    {
        "stem": "05_anomaly_detection",
        "title": "05 · anomaly detection",
        "purpose": "lesion maps: residual, prior surprise, restoration by healing",
        "writes": ("blind_spot/<hash>/blind_spot.keras", "metrics.json", "figures (maps, ROC/PR)"),
        "passes_on": None,
        "passed_files": (),
    },
)


def _file_lines(names, per_line: int = 38) -> str:
    """Comma-separated ``names`` broken into lines of at most ``per_line`` characters."""
    lines = [names[0]]
    for name in names[1:]:
        if len(f"{lines[-1]}, {name}") > per_line:
            lines[-1] += ","
            lines.append(name)
        else:
            lines[-1] += f", {name}"
    return "\n".join(lines)


def draw_roadmap():
    """The series at a glance: notebooks 01 to 05, what each is for, writes and passes on.

    Left, one box per notebook with its one-line purpose; on the arrows between them, what
    the next notebook takes from those before (files under ``run_dir``, or the data source
    and the package's layers), with notebook 05 also reading notebook 03's files. Right,
    what each notebook writes to ``runs/<run>/NN_name/``; each ends with its ``metrics.json``.
    """
    height = 6.1
    figure, axis = kit.canvas(height)
    left, width, box_height, gap = 0.45, 4.35, 0.64, 0.48
    files_x, files_width = 5.25, 3.5
    bold = {"size": kit.TEXT, "weight": "bold"}
    kit.label(axis, left + width / 2, height - 0.22, "notebook: what it teaches", **bold)
    kit.label(
        axis, files_x + files_width / 2, height - 0.22, "writes to runs/<run>/NN_name/", **bold
    )
    boxes, top = [], height - 0.45
    for step in ROADMAP:
        y = top - box_height
        box = kit.box(axis, (left, y, width, box_height), step["purpose"], title=step["title"])
        files = _file_lines(step["writes"])
        files = kit.box(
            axis, (files_x, y, files_width, box_height), files, "files", family=kit.MONO
        )
        kit.arrow(axis, box.right(), files.left())
        boxes.append(box)
        top = y - gap
    arrow_x = left + 0.3
    for step, upper, lower in zip(ROADMAP, boxes, boxes[1:], strict=False):
        kit.arrow(axis, upper.bottom(arrow_x - upper.cx), lower.top(arrow_x - lower.cx))
        middle = (upper.y + lower.y + lower.height) / 2
        family = kit.MONO if step["passed_files"] else None
        kit.label(
            axis,
            arrow_x + 0.15,
            middle,
            step["passes_on"].format(**shown_values()),
            ha="left",
            family=family,
        )
    three, five = boxes[2], boxes[4]  # notebook 05 reads notebook 03's files too
    kit.arrow(axis, three.left(), (0.2, three.cy), (0.2, five.cy), five.left())
    note = (
        "run_dir = runs/<run> (default runs/demo); a notebook that misses an earlier one's "
        "file says which notebook to run first"
    )
    kit.label(axis, kit.WIDTH / 2, 0.2, note)
    return figure
