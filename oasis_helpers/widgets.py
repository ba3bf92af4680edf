"""Interactive widgets of the notebooks (built only when ``interactive`` is True).

Widgets never gate computation: every notebook draws its static figures first,
and a widget only lets the reader look around.
"""

from __future__ import annotations

import numpy as np


def slice_browser(source, split: str = "train", show_masks: bool = True):
    """Browse a source: choose a split, a subject and a slice (masks tinted over it).

    Args:
        source: a :class:`oasis_helpers.data.SliceSource`.
        split: the split shown first.
        show_masks: start with the tissue masks tinted over the slice (if any).

    Returns:
        An ``ipywidgets.VBox`` (display it, or leave it as the cell's last value).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

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
    caption = widgets.HTML()
    output = widgets.Output()

    def current_indices():
        part = source.splits[split_choice.value]
        subject = part.subjects[subject_slider.value]
        return part, subject, part.subject_slices(subject)

    def update_ranges(*_):
        part = source.splits[split_choice.value]
        subject_slider.max = max(len(part.subjects) - 1, 0)
        subject_slider.value = min(subject_slider.value, subject_slider.max)
        _, _, indices = current_indices()
        slice_slider.max = max(len(indices) - 1, 0)
        slice_slider.value = min(slice_slider.value, slice_slider.max)

    def draw(*_):
        part, subject, indices = current_indices()
        index = int(indices[min(slice_slider.value, len(indices) - 1)])
        image = part.images[index, :, :, 0]
        with output:
            output.clear_output(wait=True)
            figure, axis = plt.subplots(figsize=(4.2, 4.2))
            if mask_box.value and part.masks is not None:
                axis.imshow(overlay_mask(image, part.masks[index]))
            else:
                axis.imshow(image, cmap="gray", vmin=0, vmax=1)
            axis.axis("off")
            axis.set_title(f"{subject}, slice {int(part.slice_ids[index])}", fontsize=9)
            plt.show()
        caption.value = (
            f"<small>{source_title(source)}: {split_choice.value} subject "
            f"{subject_slider.value + 1}/{len(part.subjects)}, slice {slice_slider.value + 1}/"
            f"{len(indices)}; intensities [{float(np.min(image)):.2f}, "
            f"{float(np.max(image)):.2f}]; file {part.files[index]}</small>"
        )

    def on_split(change):
        subject_slider.value = 0
        update_ranges()
        draw()

    split_choice.observe(on_split, names="value")
    subject_slider.observe(lambda change: (update_ranges(), draw()), names="value")
    slice_slider.observe(draw, names="value")
    mask_box.observe(draw, names="value")
    update_ranges()
    slice_slider.value = slice_slider.max // 2
    draw()
    controls = widgets.HBox([split_choice, mask_box])
    return widgets.VBox([controls, subject_slider, slice_slider, output, caption])
