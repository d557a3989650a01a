import subprocess
import sys

import matplotlib

matplotlib.use("Agg")  # no display in tests

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from minispeech import plot  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")
    assert plt.get_fignums() == []


def test_import_does_not_load_matplotlib():
    code = "import sys, minispeech.plot; assert 'matplotlib' not in sys.modules, 'eager import'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_waveform_with_marks():
    sr = 100
    x = np.sin(np.linspace(0, 20, 250))
    figure = plot.waveform(x, sr, marks=[("hello", 0.5), ("world", 1.5)], title="two words")
    assert isinstance(figure, Figure)
    (ax,) = figure.axes
    assert ax.get_title() == "two words" and ax.get_xlabel() == "time (s)"
    assert len(ax.lines) == 3  # the signal and two marks
    assert [text.get_text().strip() for text in ax.texts] == ["hello", "world"]
    assert ax.lines[0].get_xdata()[-1] == pytest.approx(249 / sr)
    assert ax.get_xlim() == pytest.approx((0, 2.5))


def test_waveform_accepts_a_torch_tensor_and_a_single_sample():
    figure = plot.waveform(torch.zeros(1, dtype=torch.bfloat16), 16000)
    assert len(figure.axes[0].lines) == 1
    with pytest.raises(ValueError, match="x must be a non-empty 1-D array"):
        plot.waveform(np.zeros((2, 10)), 16000)
    with pytest.raises(ValueError, match="sr must be a positive"):
        plot.waveform(np.zeros(10), 0)


def test_spectrogram_linear_axis_spans_nyquist_and_duration():
    S = np.random.default_rng(0).normal(size=(5, 40))  # (F, T)
    figure = plot.spectrogram(S, sr=8000, hop_length=200)
    ax, colorbar_ax = figure.axes
    (image,) = ax.images
    assert image.get_extent() == pytest.approx([0, 40 * 200 / 8000, 0, 4000])
    assert ax.get_ylabel() == "frequency (Hz)"
    np.testing.assert_array_equal(image.get_array(), S)  # not flipped: origin is "lower"


def test_spectrogram_mel_single_frame_without_colorbar():
    figure = plot.spectrogram(np.ones((80, 1)), 22050, 256, y_axis="mel", colorbar=False)
    (ax,) = figure.axes
    assert ax.get_ylabel() == "mel band"
    assert ax.images[0].get_extent() == pytest.approx([0, 256 / 22050, 0, 80])
    with pytest.raises(ValueError, match="y_axis must be one of"):
        plot.spectrogram(np.ones((3, 3)), 16000, 160, y_axis="log")


def test_spectrogram_draws_into_a_given_axes():
    figure, (top, bottom) = plt.subplots(2, 1)
    returned = plot.spectrogram(np.ones((4, 6)), 16000, 160, ax=bottom, colorbar=False)
    assert returned is figure
    assert len(bottom.images) == 1 and len(top.images) == 0


def test_alignment_matrix_and_path():
    cost = np.arange(12.0).reshape(3, 4)  # (T_out, T_in)
    path = [(0, 0), (1, 1), (1, 2), (2, 3)]
    figure = plot.alignment(cost, path=path, title="DTW")
    ax = figure.axes[0]
    assert len(figure.axes) == 2  # the matrix and its colour bar
    assert ax.images[0].get_array().shape == (3, 4)
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2, 3])  # input index across
    np.testing.assert_array_equal(line.get_ydata(), [0, 1, 1, 2])  # output index up
    assert ax.get_title() == "DTW"


def test_alignment_path_alone_and_errors():
    figure = plot.alignment(path=np.array([[0, 0]]))
    assert len(figure.axes) == 1 and len(figure.axes[0].lines) == 1
    with pytest.raises(ValueError, match="needs a matrix, a path, or both"):
        plot.alignment()
    with pytest.raises(ValueError, match=r"path must be \(N, 2\)"):
        plot.alignment(path=np.zeros((4, 3)))


def test_attention_puts_decoder_steps_across():
    weights = torch.softmax(torch.randn(7, 3), dim=-1)  # (T_dec, T_enc)
    figure = plot.attention(weights)
    ax = figure.axes[0]
    assert ax.images[0].get_array().shape == (3, 7)  # (T_enc, T_dec)
    assert ax.get_xlabel() == "decoder step" and ax.get_ylabel() == "encoder step"
    assert ax.get_title() == "attention"
    with pytest.raises(ValueError, match="weights must be a non-empty 2-D array"):
        plot.attention(torch.zeros(2, 7, 3))


def test_training_curves_values_and_pairs():
    history = {"train loss": [3.0, 2.0, 1.5, 1.2], "valid loss": [(1, 2.5), (3, 1.8)]}
    figure = plot.training_curves(history, logy=True)
    ax = figure.axes[0]
    train_line, valid_line = ax.lines
    np.testing.assert_array_equal(train_line.get_xdata(), [0, 1, 2, 3])
    np.testing.assert_array_equal(valid_line.get_xdata(), [1, 3])
    np.testing.assert_array_equal(valid_line.get_ydata(), [2.5, 1.8])
    assert ax.get_yscale() == "log"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == list(history)
    assert len(plot.training_curves({"one": [1.0]}).axes[0].lines) == 1
    with pytest.raises(ValueError, match="history is empty"):
        plot.training_curves({})


def test_confusion_matrix_normalizes_rows_and_writes_counts():
    counts = np.array([[8, 2, 0], [1, 3, 0], [0, 0, 0]])  # the last class never occurs
    figure = plot.confusion_matrix(counts, ["a", "b", "c"])
    ax = figure.axes[0]
    shown = np.asarray(ax.images[0].get_array())
    np.testing.assert_allclose(shown, [[0.8, 0.2, 0], [0.25, 0.75, 0], [0, 0, 0]])
    assert [text.get_text() for text in ax.texts] == ["8", "2", "0", "1", "3", "0", "0", "0", "0"]
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["a", "b", "c"]
    raw = plot.confusion_matrix(counts, ["a", "b", "c"], normalize=False).axes[0]
    np.testing.assert_array_equal(raw.images[0].get_array(), counts)
    with pytest.raises(ValueError, match="one row per label"):
        plot.confusion_matrix(counts, ["a", "b"])


def test_durations_by_speaker_boxplot():
    durations = {"en-f1": [1.0, 2.0, 3.0], "en-m1": [2.5], "de-f2": [1.5, 4.0]}
    figure = plot.durations_by_speaker(durations)
    ax = figure.axes[0]
    assert [tick.get_text() for tick in ax.get_xticklabels()] == list(durations)
    assert ax.get_ylabel() == "duration (s)"
    assert len(ax.lines) == 3 * 7  # per box: box, median, 2 whiskers, 2 caps, the fliers
    levels = {float(y[0]) for y in (line.get_ydata() for line in ax.lines) if len(set(y)) == 1}
    assert {2.0, 2.5, 2.75} <= levels  # the three medians are drawn
    with pytest.raises(ValueError, match="speaker 'x' has no durations"):
        plot.durations_by_speaker({"x": []})
