"""minispeech.tts_report: the per-pair scores, the report table with its ceiling rows, the
comparison figure and the listening grid, on two short eSpeak sentences."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minispeech import espeak, tts_report
from minispeech.dsp import MelConfig

CONFIG = MelConfig()
TEXTS = ["the cat sat on the mat", "a red boat"]


@pytest.fixture(scope="module")
def references() -> list[np.ndarray]:
    return [espeak.synthesize(text, voice="en-us+m1", rate=170)[0] for text in TEXTS]


def test_score_pair_is_zero_on_identical_audio(references):
    scores = tts_report.score_pair(references[0], references[0], CONFIG)
    assert scores == {
        "mcd_db": 0.0,
        "mel_l1": 0.0,
        "lsd_db": 0.0,
        "f0_rmse_cents": 0.0,
        "voicing_error": 0.0,
        "length_ratio": 1.0,
    }


def test_report_has_ceiling_rows_and_orders_systems(references):
    rng = np.random.default_rng(0)
    noisy = [x + 0.05 * rng.standard_normal(x.size).astype(np.float32) for x in references]
    slower = [
        np.repeat(x, 2)[::2][: int(1.1 * x.size)] for x in references
    ]  # same audio, 10 % longer tail cut
    report = tts_report.tts_report(
        references, {"noisy": noisy, "copy": slower}, config=CONFIG, recognizer=False
    )
    names = [row["system"] for row in report.rows]
    assert names == [tts_report.REFERENCE_ROW, tts_report.GRIFFIN_LIM_ROW, "noisy", "copy"]
    reference_row, griffin_lim_row, noisy_row = report.rows[:3]
    assert reference_row["mcd_db"] == 0.0 and reference_row["length_ratio"] == 1.0
    assert 0.0 < griffin_lim_row["mcd_db"] < noisy_row["mcd_db"]
    assert 0.0 < griffin_lim_row["mel_l1"] < noisy_row["mel_l1"]
    assert "cer" not in noisy_row and "MCD dB" in report.table and "noisy" in report.table


def test_report_with_a_recognizer_adds_finite_cer(references):
    torch = pytest.importorskip("torch")
    from minispeech.models.ctc_asr import CTCASR, CTCASRConfig

    torch.manual_seed(0)
    recognizer = CTCASR(CTCASRConfig.preset("ci"))
    report = tts_report.tts_report(references, {}, TEXTS, CONFIG, recognizer=recognizer)
    assert all(math.isfinite(row["cer"]) and math.isfinite(row["wer"]) for row in report.rows)
    assert "CER" in report.table


def test_figure_and_listening_grid(references):
    pytest.importorskip("matplotlib")
    pytest.importorskip("IPython")
    import matplotlib

    matplotlib.use("Agg")
    figure = tts_report.plot_comparison(
        references[0], {"copy": references[0]}, CONFIG, alignment=np.eye(5)
    )
    assert len(figure.axes) >= 4
    grid = tts_report.listening_grid(
        references, {"copy": references}, TEXTS, CONFIG.sample_rate, max_rows=1
    )
    assert grid.data.count("<audio") == 2 and "the cat sat" in grid.data
