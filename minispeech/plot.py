"""Figures for the lessons: waveforms, spectrograms, alignments, attention, training curves.

waveform              amplitude over seconds, with labelled vertical marks (word or phone starts)
spectrogram           a (F, T) dB or log array over seconds; y axis in Hz or mel bins
alignment             a (T_out, T_in) matrix (DTW cost, CTC posteriors...) and/or a path through it
attention             decoder-over-encoder attention weights (T_dec, T_enc), Tacotron-style
training_curves       one line per named series of a history dict
confusion_matrix      row-normalized colours with the raw counts written in each cell
durations_by_speaker  a box plot of utterance durations per speaker

Every function draws into `ax` when given one, else into a new pyplot figure, and returns the
Figure; none calls plt.show(). In Jupyter a pyplot figure shows by itself at the end of the cell,
so end the line with `;` (or assign the result) to not see it twice. matplotlib is imported
inside the functions: `import minispeech.plot` stays light. Arrays may be NumPy or torch.

Taught in lessons/00_setup_data_text.ipynb, section 3, and used by every later lesson.
"""

from __future__ import annotations

import numpy as np

Y_AXES = ("linear", "mel")


def _array(values, name: str, ndim: int) -> np.ndarray:
    """`values` as a float NumPy array with `ndim` dimensions and at least one element."""
    if hasattr(values, "detach"):  # a torch tensor, possibly bf16 or on a GPU
        values = values.detach().float().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != ndim or array.size == 0:
        raise ValueError(f"{name} must be a non-empty {ndim}-D array, got shape {array.shape}")
    return array


def _figure_and_axes(ax, figsize: tuple[float, float]):
    if ax is not None:
        return ax.figure, ax
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=figsize, layout="constrained")
    return figure, ax


def waveform(x, sr: int, ax=None, title: str | None = None, marks=None):
    """Plot a mono waveform x (T_wav,) against time in seconds.

    marks: a list of (label, seconds) drawn as labelled vertical lines, e.g. the start of each
    word from a forced alignment.
    """
    samples = _array(x, "x", ndim=1)
    if sr <= 0:
        raise ValueError(f"sr must be a positive sample rate in Hz, got {sr}")
    figure, ax = _figure_and_axes(ax, (10, 2.5))
    seconds = np.arange(len(samples)) / sr
    ax.plot(seconds, samples, linewidth=0.6)
    ax.set_xlim(0, len(samples) / sr)
    ax.set(xlabel="time (s)", ylabel="amplitude", title=title or "waveform")
    for label, time in marks or []:
        ax.axvline(time, color="tab:red", linewidth=0.8, alpha=0.8)
        # x in data units (seconds), y in axes units (0 bottom, 1 top): labels sit inside the top
        ax.text(time, 0.97, f" {label}", transform=ax.get_xaxis_transform(), va="top", fontsize=8)
    return figure


def spectrogram(S, sr: int, hop_length: int, ax=None, y_axis: str = "linear",
                title: str | None = None, colorbar: bool = True):
    """Show S (F, T) — dB or log values — as an image: time in seconds across, frequency up.

    y_axis "linear": F bins of an STFT spanning 0 .. sr/2 Hz; "mel": F mel bands, labelled by
    index (their Hz edges depend on the filterbank).
    """
    values = _array(S, "S", ndim=2)
    if y_axis not in Y_AXES:
        raise ValueError(f"y_axis must be one of {Y_AXES}, got {y_axis!r}")
    if sr <= 0 or hop_length <= 0:
        raise ValueError(f"sr and hop_length must be positive, got sr={sr}, hop_length={hop_length}")
    figure, ax = _figure_and_axes(ax, (10, 3.5))
    n_bins, n_frames = values.shape
    top, ylabel = (sr / 2, "frequency (Hz)") if y_axis == "linear" else (n_bins, "mel band")
    image = ax.imshow(values, origin="lower", aspect="auto", interpolation="nearest",
                      extent=(0, n_frames * hop_length / sr, 0, top))
    ax.set(xlabel="time (s)", ylabel=ylabel, title=title or "spectrogram")
    if colorbar:
        figure.colorbar(image, ax=ax, label="level")
    return figure


def alignment(matrix=None, path=None, ax=None, xlabel: str = "input step",
              ylabel: str = "output step", title: str | None = None, colorbar: bool = True):
    """Show a (T_out, T_in) matrix with output steps up the y axis, and/or a path through it.

    path: (N, 2) index pairs (i_out, j_in), e.g. a DTW or forced-alignment path; it is drawn
    on top of the matrix (white) or alone (blue).
    """
    if matrix is None and path is None:
        raise ValueError("alignment needs a matrix, a path, or both")
    figure, ax = _figure_and_axes(ax, (6, 4.5))
    if matrix is not None:
        values = _array(matrix, "matrix", ndim=2)
        image = ax.imshow(values, origin="lower", aspect="auto", interpolation="nearest")
        if colorbar:
            figure.colorbar(image, ax=ax)
    if path is not None:
        pairs = _array(path, "path", ndim=2)
        if pairs.shape[1] != 2:
            raise ValueError(f"path must be (N, 2) pairs (i_out, j_in), got shape {pairs.shape}")
        ax.plot(pairs[:, 1], pairs[:, 0], color="white" if matrix is not None else "tab:blue",
                linewidth=1.5, marker="." if len(pairs) < 50 else None)
    from matplotlib.ticker import MaxNLocator

    for axis in (ax.xaxis, ax.yaxis):  # steps are whole numbers
        axis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title or "alignment")
    return figure


def attention(weights, ax=None, title: str | None = None, colorbar: bool = True):
    """Plot attention weights (T_dec, T_enc) of one example: decoder steps across, encoder steps
    (input tokens) up. A good alignment is a clean diagonal from bottom left to top right."""
    values = _array(weights, "weights", ndim=2)  # pick one example first: weights[0]
    return alignment(values.T, ax=ax, xlabel="decoder step", ylabel="encoder step",  # (T_enc, T_dec)
                     title=title or "attention", colorbar=colorbar)


def training_curves(history: dict, ax=None, logy: bool = False, title: str | None = None,
                    xlabel: str = "step"):
    """One line per name in `history`. Each series is a list of values (one per step) or of
    (step, value) pairs, for series logged less often such as validation loss."""
    if not history:
        raise ValueError("history is empty: pass e.g. {'train loss': [2.3, 1.9, ...]}")
    figure, ax = _figure_and_axes(ax, (7, 4))
    for name, series in history.items():
        values = np.asarray(series, dtype=np.float64)
        if values.ndim == 2 and values.shape[1] == 2:
            steps, values = values[:, 0], values[:, 1]
        elif values.ndim == 1:
            steps = np.arange(len(values))
        else:
            raise ValueError(f"history[{name!r}] must be values or (step, value) pairs, "
                             f"got shape {values.shape}")
        ax.plot(steps, values, label=name, marker="." if len(values) <= 30 else None)
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel="value", title=title or "training curves")
    ax.legend()
    return figure


def confusion_matrix(matrix, labels, ax=None, normalize: bool = True, title: str | None = None):
    """Rows are the true classes, columns the predicted ones. With normalize, colours show the
    fraction of each true class (row); the numbers written in the cells are the raw counts."""
    counts = _array(matrix, "matrix", ndim=2)
    labels = [str(label) for label in labels]
    if counts.shape != (len(labels), len(labels)):
        raise ValueError(f"matrix must be square with one row per label ({len(labels)} labels), "
                         f"got shape {counts.shape}")
    shown = counts
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        shown = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    size = max(4.0, 0.45 * len(labels) + 2)
    figure, ax = _figure_and_axes(ax, (size, size))
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    figure.colorbar(image, ax=ax, label="fraction of the true class" if normalize else "count")
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, labels, rotation=90 if max(map(len, labels)) > 3 else 0)
    ax.set_yticks(ticks, labels)
    threshold = shown.max() / 2
    for row, column in np.ndindex(counts.shape):
        count = counts[row, column]
        text = f"{count:.0f}" if count == round(count) else f"{count:.2g}"
        color = "white" if shown[row, column] > threshold else "black"
        ax.text(column, row, text, ha="center", va="center", color=color, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion matrix")
    return figure


def durations_by_speaker(durations: dict, ax=None, title: str | None = None):
    """A box plot of utterance durations in seconds, one box per speaker: {speaker: [seconds]}."""
    if not durations:
        raise ValueError("durations is empty: pass {speaker: [seconds, ...]}")
    for speaker, seconds in durations.items():
        if len(seconds) == 0:
            raise ValueError(f"speaker {speaker!r} has no durations: drop it or add its utterances")
    speakers = list(durations)
    figure, ax = _figure_and_axes(ax, (max(6.0, 0.5 * len(speakers) + 2), 4))
    ax.boxplot([np.asarray(durations[speaker], dtype=np.float64) for speaker in speakers])
    ax.set_xticks(np.arange(1, len(speakers) + 1), speakers,
                  rotation=90 if len(speakers) > 8 else 0)
    ax.set(xlabel="speaker", ylabel="duration (s)", title=title or "utterance durations by speaker")
    return figure
