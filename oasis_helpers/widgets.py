"""Interactive widgets of the notebooks (built only when ``interactive`` is True).

Widgets never gate computation: every notebook draws its static figures first,
and a widget only lets the reader look around; an expensive action (fitting a
codebook-size sweep, :func:`size_sweeper`; training a variant, :func:`vqvae_trainer`;
sampling from the prior, :func:`prior_sampler`) waits behind a button and makes the same
call as the notebook's own computation. :func:`threshold_explorer` thresholds notebook 05's
anomaly maps.
Pictures are rendered to PNG bytes shown in an ``ipywidgets.Image`` (no ``Output``
widget, no ``clear_output``), which keeps them fast and safe to build in headless runs.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt


def render_png(picture: npt.NDArray[Any], title: str = "", size_inches: float = 4.2) -> bytes:
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


def figure_png(figure, dpi: int = 80) -> bytes:
    """A matplotlib figure (e.g. from :mod:`oasis_helpers.plots`) as PNG bytes; closes it.

    Closing keeps a widget's callback, which draws a new figure each time, from piling up
    figures in ``pyplot`` (or showing them under the cell).
    """
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
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


#: The layers :func:`size_sweeper` offers: label -> class name in :mod:`oasis_helpers.quantizer`.
SWEEP_LAYERS = {"EMA (defaults)": "VectorQuantizerEMA", "plain (defaults)": "VectorQuantizer"}


def size_sweeper(
    train_vectors: npt.ArrayLike,
    validation_vectors: npt.ArrayLike,
    sizes,
    steps: int,
    **sweep_options,
):
    """Fit a codebook-size sweep of the sizes, layer and steps the reader picks.

    Notebook 02's "How large should the codebook be?": pressing *Fit sweep* calls
    :func:`oasis_helpers.patch_study.codebook_size_sweep` with the picked sizes ``K``,
    steps per size and layer (EMA or plain, each with its defaults), and with the
    notebook's own vectors and ``sweep_options`` (the same call as the notebook's sweep).
    The picture is :func:`oasis_helpers.plots.plot_size_sweep` of the results; the
    caption gives each size's usage, perplexity and patch MSE.

    Args:
        train_vectors, validation_vectors: the notebook's training and validation patches.
        sizes: the sizes picked at first (the notebook's sweep).
        steps: the steps per size at first (10 to 1000).
        **sweep_options: the other keyword arguments of ``codebook_size_sweep``
            (``commitment_cost``, ``batch_size``, ``learning_rate``, ``seed``).

    Returns:
        An ``ipywidgets.VBox``: the size, layer and steps pickers, the button, the caption
        and the picture (display it).
    """
    import ipywidgets as widgets

    from oasis_helpers import patch_study, plots, quantizer

    size_picker = widgets.SelectMultiple(
        options=sorted({8, 16, 32, 64, 128, 256, 512, 1024, 2048, *sizes}),
        value=tuple(sizes),
        description="sizes K",
    )
    layer_picker = widgets.Dropdown(options=list(SWEEP_LAYERS.items()), description="layer")
    steps_picker = widgets.IntSlider(value=steps, min=10, max=1000, step=10, description="steps")
    button = widgets.Button(description="Fit sweep", button_style="primary")
    caption = widgets.HTML()
    picture = widgets.Image(format="png", width=720)

    def fit(_):
        chosen = sorted(size_picker.value)
        if not chosen:
            caption.value = "pick at least one size"
            return
        caption.value = f"fitting {len(chosen)} sizes for {steps_picker.value} steps each ..."
        results = patch_study.codebook_size_sweep(
            train_vectors,
            validation_vectors,
            chosen,
            steps_picker.value,
            layer_class=getattr(quantizer, layer_picker.value),
            **sweep_options,
        )
        picture.value = figure_png(plots.plot_size_sweep(results))
        caption.value = f"{layer_picker.value}, {steps_picker.value} steps: " + "; ".join(
            f"K = {row['num_embeddings']}: usage {row['codebook_usage']:.1%}, perplexity "
            f"{row['code_perplexity']:.1f}, MSE {row['reconstruction_mse']:.5f}"
            for row in results
        )

    button.on_click(fit)
    controls = widgets.HBox([size_picker, layer_picker, steps_picker])
    return widgets.VBox([controls, button, caption, picture])


def _code_picture(codes: np.ndarray) -> np.ndarray:
    """An RGB ``[h, w, 3]`` picture of a code grid: 20 colours (``tab20``), repeating over K."""
    from matplotlib import colormaps

    return colormaps["tab20"](np.asarray(codes) % 20)[..., :3]


def vqvae_trainer(
    model_config: dict,
    settings: dict,
    train_data,
    strategy,
    base_dir,
    images: npt.ArrayLike,
    sample_size: int = 32,
):
    """Train a fresh VQ-VAE with another codebook size ``K``, code size ``D`` and ``beta``.

    Notebook 03's "Try it". Pressing *Train* builds ``models.make_vqvae`` from
    ``model_config`` with the chosen ``num_embeddings``, ``embedding_dim`` and
    ``commitment_cost`` and trains it in the folder of that configuration under
    ``base_dir`` with the notebook's own ``settings`` (``training.train_in_run_dir``, the
    same call as the notebook's training: pressing again with the same choice continues
    its run), for the chosen minutes at most. The caption then gives the epochs, the
    folder, the SSIM and the code perplexity of the first ``sample_size`` of ``images``
    and the bits per slice; the pictures show the first image, its reconstruction and its code grid.

    Args:
        model_config: the keyword arguments of the notebook's model (``make_vqvae``).
        settings: the notebook's data and training settings (``fit_with_settings``).
        train_data: the training ``tf.data.Dataset``.
        strategy: the distribution strategy to build the models under.
        base_dir: the folder of the widget's runs (one subfolder per configuration).
        images: float ``[N, H, W, 1]`` test slices in ``[0, 1]``.
        sample_size: test slices evaluated after training.

    Returns:
        An ``ipywidgets.VBox``: the K and D pickers, the beta and minutes sliders, the
        button, the caption and the three pictures (display it).
    """
    import ipywidgets as widgets

    from oasis_helpers import metrics, models, training

    current = {**models.DEFAULT_CONFIG, **model_config}  # the values the pickers start from
    size, dim = current["num_embeddings"], current["embedding_dim"]
    size_picker = widgets.Dropdown(
        options=sorted({32, 64, 128, 256, 512, 1024, size}), value=size, description="K"
    )
    dim_picker = widgets.Dropdown(
        options=sorted({4, 8, 16, 32, 64, dim}), value=dim, description="D"
    )
    beta_slider = widgets.FloatSlider(
        value=current["commitment_cost"], min=0.05, max=2.0, step=0.05, description="beta"
    )
    minutes_slider = widgets.FloatSlider(
        value=1.0, min=0.5, max=10.0, step=0.5, description="minutes"
    )
    button = widgets.Button(description="Train", button_style="primary")
    caption = widgets.HTML()
    pictures = [widgets.Image(format="png", width=220) for _ in range(3)]
    sample = np.asarray(images[: min(sample_size, len(images))])

    def train(_):
        size, dim, beta = size_picker.value, dim_picker.value, beta_slider.value
        caption.value = (
            f"training K={size}, D={dim}, beta={beta} for {minutes_slider.value} min ..."
        )
        config = dict(model_config, num_embeddings=size, embedding_dim=dim, commitment_cost=beta)
        variant = models.make_vqvae(strategy, learning_rate=settings["learning_rate"], **config)
        result = training.train_in_run_dir(
            variant,
            train_data,
            base_dir,
            config,
            settings,
            max_train_minutes=minutes_slider.value,
            verbose=0,
        )
        folder = result.requested_run_dir
        reconstructions = variant.reconstruct(sample)
        codes = variant.encode(sample)
        bits = models.bits_per_slice(current["image_size"], current["downsample"], size)
        caption.value = (
            f"{result.epochs_completed} epochs in {folder.name}: SSIM "
            f"{metrics.ssim(sample, reconstructions):.4f} on {len(sample)} test slices, "
            f"perplexity {metrics.perplexity(codes, size):.1f}, {bits:,.0f} bits per slice"
        )
        shown = (sample[0, ..., 0], reconstructions[0, ..., 0], _code_picture(codes[0]))
        for picture, image, title in zip(
            pictures, shown, ("original", "reconstruction", "codes"), strict=True
        ):
            picture.value = render_png(image, title, size_inches=3.0)

    button.on_click(train)
    return widgets.VBox(
        [
            widgets.HBox([size_picker, dim_picker]),
            widgets.HBox([beta_slider, minutes_slider]),
            button,
            caption,
            widgets.HBox(pictures),
        ]
    )


def prior_sampler(model, vqvae, code_size: int, temperature: float = 1.0, top_k=None, seed=0):
    """Sample one slice from the prior at the temperature and height the reader picks.

    Notebook 04's "Try it": each press of *sample* (and the first draw, when the widget is
    built) calls :func:`oasis_helpers.prior.sample_codes` for one ``code_size x code_size``
    grid at the slider's temperature (and, for a conditional prior, height), with
    ``top_k`` and the seed ``seed + 100 + n`` of the ``n``-th draw, and shows the VQ-VAE's
    decoding of it. The height slider is disabled for an unconditional prior.

    Args:
        model: notebook 04's prior; vqvae: the VQ-VAE whose codes it models.
        code_size: side of the code grid.
        temperature: where the temperature slider starts; top_k, seed: of the draws.

    Returns:
        An ``ipywidgets.VBox``: the temperature and height sliders and the button, above
        the picture (display it).
    """
    import ipywidgets as widgets

    from oasis_helpers import prior

    conditional = model.conditional
    temperature_slider = widgets.FloatSlider(
        value=temperature, min=0.3, max=2.0, step=0.1, description="temperature"
    )
    height_slider = widgets.FloatSlider(
        value=0.5, min=0.0, max=1.0, step=0.05, description="height", disabled=not conditional
    )
    sample_button = widgets.Button(description="sample", button_style="primary")
    picture = widgets.Image(format="png")
    draws = {"count": 0}

    def draw_sample(_=None):
        draws["count"] += 1
        codes = prior.sample_codes(
            model,
            1,
            code_size,
            code_size,
            height_slider.value if conditional else None,
            temperature=temperature_slider.value,
            top_k=top_k,
            seed=seed + 100 + draws["count"],
        )
        title = f"T = {temperature_slider.value:.1f}" + (
            f", height {height_slider.value:.2f}" if conditional else ""
        )
        picture.value = render_png(vqvae.decode(codes)[0, ..., 0], title)

    sample_button.on_click(draw_sample)
    draw_sample()
    controls = widgets.HBox([temperature_slider, height_slider, sample_button])
    return widgets.VBox([controls, picture])


#: Colours of :func:`threshold_explorer`'s picture: lesion pixels found, missed, false alarms.
FOUND_COLOUR, MISSED_COLOUR, FALSE_ALARM_COLOUR = (1.0, 0.1, 0.1), (0.2, 0.4, 1.0), (1.0, 0.9, 0.1)


def threshold_explorer(images, masks, maps, start_index: int = 0):
    """Threshold one method's anomaly map on one slice and see what it finds.

    Notebook 05's "Try it": pick a method (:data:`oasis_helpers.anomaly.METHODS`), a slice
    and a threshold, a fraction of the largest value of that method's map over all the
    slices. The picture colours the predicted lesion inside the evaluated region over the
    slice (red: found, blue: missed, yellow: false alarm); its title gives the Dice
    (:func:`oasis_helpers.anomaly.dice_at_threshold`) on that slice and on all of them.

    Args:
        images: float ``[N, H, W, 1]`` in ``[0, 1]``; masks: bool ``[N, H, W]``, the lesions.
        maps: their :class:`oasis_helpers.anomaly.AnomalyMaps` (``maps`` and ``region``).
        start_index: the slice shown first.

    Returns:
        An ``ipywidgets.VBox``: the method picker and the threshold and slice sliders above
        the picture (display it).
    """
    import ipywidgets as widgets

    from oasis_helpers import anomaly

    method_picker = widgets.Dropdown(options=list(anomaly.METHODS), description="method")
    threshold_slider = widgets.FloatSlider(
        value=0.5, min=0.0, max=1.0, step=0.01, description="threshold"
    )
    slice_picker = widgets.IntSlider(
        value=int(start_index), min=0, max=len(images) - 1, description="slice"
    )
    picture = widgets.Image(format="png")

    def draw(_=None):
        method_maps = maps.maps[method_picker.value]
        threshold = threshold_slider.value * float(method_maps.max() or 1.0)
        index = slice_picker.value
        predicted = (method_maps[index] >= threshold) & maps.region[index]
        truth = masks[index]
        gray = np.clip(images[index, ..., 0], 0, 1)
        colour = np.repeat(gray[..., None], 3, axis=-1)
        colour[predicted & truth] = FOUND_COLOUR
        colour[~predicted & truth] = MISSED_COLOUR
        colour[predicted & ~truth] = FALSE_ALARM_COLOUR
        slice_dice = anomaly.dice_at_threshold(
            method_maps[index : index + 1],
            masks[index : index + 1],
            threshold,
            maps.region[index : index + 1],
        )
        pooled_dice = anomaly.dice_at_threshold(method_maps, masks, threshold, maps.region)
        picture.value = render_png(
            colour,
            f"{method_picker.value}: Dice {slice_dice:.3f} on this slice, {pooled_dice:.3f} on all",
        )

    for control in (method_picker, threshold_slider, slice_picker):
        control.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([method_picker, threshold_slider, slice_picker]), picture])
