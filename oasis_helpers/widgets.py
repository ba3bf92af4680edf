"""Interactive widgets of the notebooks (built only when ``interactive`` is True).

Widgets never gate computation: every notebook draws its static figures first,
and a widget only lets the reader look around. The browser renders its picture
to PNG bytes shown in an ``ipywidgets.Image`` (no ``Output`` widget, no
``clear_output``), which keeps it fast and safe to build in headless runs.
"""

from __future__ import annotations

import io

import numpy as np


def render_png(picture: np.ndarray, title: str = "", size_inches: float = 4.2) -> bytes:
    """Draw one slice (``[H, W]`` gray in [0, 1] or ``[H, W, 3]`` RGB) as PNG bytes.

    Uses matplotlib's object API with the Agg canvas, so nothing is shown or
    registered with ``pyplot``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(size_inches, size_inches))
    FigureCanvasAgg(figure)
    axis = figure.add_axes((0.0, 0.0, 1.0, 0.93))
    if picture.ndim == 2:
        axis.imshow(picture, cmap="gray", vmin=0.0, vmax=1.0)
    else:
        axis.imshow(np.clip(picture, 0.0, 1.0))
    axis.axis("off")
    if title:
        figure.suptitle(title, fontsize=9, y=0.985)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def slice_browser(source, split: str = "train", show_masks: bool = True):
    """Browse a source: choose a split, a subject and a slice (masks tinted over it).

    Args:
        source: a :class:`oasis_helpers.data.SliceSource`.
        split: the split shown first.
        show_masks: start with the tissue masks tinted over the slice (if any).

    Returns:
        An ``ipywidgets.VBox``: controls (split, masks), subject and slice
        sliders, the picture and a caption (display it, or leave it as the
        cell's last value).
    """
    import ipywidgets as widgets

    from oasis_helpers.plots import overlay_mask, source_title

    names = [name for name, part in source.splits.items() if len(part)]
    if not names:
        raise ValueError("the source has no slices to browse")
    split_choice = widgets.Dropdown(
        options=names, value=split if split in names else names[0], description="split"
    )
    subject_slider = widgets.IntSlider(min=0, max=0, description="subject", continuous_update=False)
    slice_slider = widgets.IntSlider(min=0, max=0, description="slice", continuous_update=True)
    has_masks = any(part.masks is not None for part in source.splits.values())
    mask_box = widgets.Checkbox(
        value=show_masks and has_masks, description="tissue masks", disabled=not has_masks
    )
    picture = widgets.Image(format="png", width=340)
    caption = widgets.HTML()
    updating = {"active": False}

    def current():
        part = source.splits[split_choice.value]
        subject = part.subjects[min(subject_slider.value, len(part.subjects) - 1)]
        return part, subject, part.subject_slices(subject)

    def draw(*_):
        if updating["active"]:
            return
        part, subject, indices = current()
        index = int(indices[min(slice_slider.value, len(indices) - 1)])
        image = part.images[index, :, :, 0]
        shown = (
            overlay_mask(image, part.masks[index])
            if mask_box.value and part.masks is not None
            else image
        )
        picture.value = render_png(shown, f"{subject}, slice {int(part.slice_ids[index])}")
        caption.value = (
            f"<small>{source_title(source)}: {split_choice.value} subject "
            f"{subject_slider.value + 1}/{len(part.subjects)}, slice {slice_slider.value + 1}/"
            f"{len(indices)}; intensities [{float(np.min(image)):.2f}, "
            f"{float(np.max(image)):.2f}]; file {part.files[index]}</small>"
        )

    def update_ranges(*_):
        updating["active"] = True  # change ranges without redrawing for every step
        try:
            part = source.splits[split_choice.value]
            subject_slider.max = max(len(part.subjects) - 1, 0)
            _, _, indices = current()
            slice_slider.max = max(len(indices) - 1, 0)
        finally:
            updating["active"] = False
        draw()

    def on_split(_):
        updating["active"] = True
        subject_slider.value = 0
        updating["active"] = False
        update_ranges()

    split_choice.observe(on_split, names="value")
    subject_slider.observe(update_ranges, names="value")
    slice_slider.observe(draw, names="value")
    mask_box.observe(draw, names="value")
    update_ranges()
    slice_slider.value = slice_slider.max // 2
    draw()
    controls = widgets.HBox([split_choice, mask_box])
    return widgets.VBox([controls, subject_slider, slice_slider, picture, caption])
