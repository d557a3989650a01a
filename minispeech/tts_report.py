"""One table, one figure and one listening grid that every TTS lesson (07-12) shows.

score_pair          MCD, mel-L1, LSD, F0 RMSE, voicing error and length ratio of one synthesized
                    waveform against its reference (all on the same DTW path)
tts_report          a table over systems: the measures averaged over utterances, plus CER/WER of
                    the project's recognizer, with two ceiling rows (the reference audio itself
                    and Griffin-Lim of its true mel) so every score reads "how far from the ceiling"
plot_comparison     log-mels of the reference and each system, their F0 tracks, an alignment
listening_grid      reference vs systems as IPython audio players, one row per sentence

Waveforms are 1-D float arrays at config.sample_rate. The measures are minispeech.tts_metrics.
Taught in lessons/07_tacotron2.ipynb (section 1); used by lessons 08-12.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from minispeech import tts_metrics
from minispeech.dsp import MelConfig

REFERENCE_ROW = "reference (eSpeak)"
GRIFFIN_LIM_ROW = "Griffin-Lim of the true mel"


class TTSReport(NamedTuple):
    rows: list[dict]  # one dict per system: {"system", "mcd_db", "lsd_db", ...}
    table: str  # the rows as an aligned text table: print(report.table)


def score_pair(reference: np.ndarray, synthesized: np.ndarray, config: MelConfig) -> dict:
    """The spectral and pitch measures of one synthesized utterance against its reference.

    Both are analysed with `config`; frames are paired along the MCD's DTW path, which the
    mel-L1 (on log-mels), the LSD (on STFT magnitudes) and the F0 errors reuse. Lesson 07.
    """
    from minispeech.audio import validate
    from minispeech.dsp import log_mel, stft

    reference = validate(reference, "score_pair: reference").astype(np.float32)
    synthesized = validate(synthesized, "score_pair: synthesized").astype(np.float32)
    reference_mel, synthesized_mel = log_mel(reference, config), log_mel(synthesized, config)
    mcd = tts_metrics.mel_cepstral_distortion(reference_mel, synthesized_mel)
    # mel-L1: HiFi-GAN's L_mel, the mean |difference| of natural-log mels over the paired frames
    mel_l1 = np.abs(reference_mel[:, mcd.path[:, 0]] - synthesized_mel[:, mcd.path[:, 1]]).mean()

    def magnitude(x: np.ndarray) -> np.ndarray:
        return np.abs(stft(x, config.n_fft, config.hop_length, config.win_length))

    lsd = tts_metrics.log_spectral_distance(magnitude(reference), magnitude(synthesized), mcd.path)
    f0 = tts_metrics.f0_errors(
        *tts_metrics.f0_track(reference, config),
        *tts_metrics.f0_track(synthesized, config),
        mcd.path,
    )
    return {
        "mcd_db": mcd.mcd_db,
        "mel_l1": float(mel_l1),
        "lsd_db": lsd,
        "f0_rmse_cents": f0.rmse_cents,
        "voicing_error": f0.voicing_error,
        "length_ratio": len(synthesized) / len(reference),
    }


def _format_table(rows: list[dict]) -> str:
    columns = [("system", "system", "{}"), ("mcd_db", "MCD dB", "{:.2f}"), ("mel_l1", "mel-L1", "{:.3f}"), ("lsd_db", "LSD dB", "{:.2f}"),
               ("f0_rmse_cents", "F0 RMSE c", "{:.0f}"), ("voicing_error", "V/UV err", "{:.3f}"),
               ("length_ratio", "length", "{:.3f}"), ("cer", "CER", "{:.3f}"), ("wer", "WER", "{:.3f}")]  # fmt: skip
    columns = [column for column in columns if any(column[0] in row for row in rows)]
    cells = [[title for _, title, _ in columns]]
    for row in rows:
        cells.append(
            [pattern.format(row[key]) if key in row else "-" for key, _, pattern in columns]
        )
    widths = [max(len(line[index]) for line in cells) for index in range(len(columns))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def tts_report(
    references: Sequence[np.ndarray],
    systems: dict[str, Sequence[np.ndarray]],
    texts: Sequence[str] | None = None,
    config: MelConfig | None = None,
    recognizer=None,
    ceilings: bool = True,
) -> TTSReport:
    """Measures of each system against the references, averaged over the utterances.

    references: the reference waveforms (eSpeak's rendering of the sentences); systems:
    {name: waveforms in the same order}. With ceilings, two rows come first: the references
    themselves (MCD 0, the recognizer's own CER on eSpeak: the ceiling) and Griffin-Lim of
    their true log-mel (dsp.log_mel_to_audio: the vocoder floor every mel model inherits).
    CER/WER columns need `texts`; recognizer=None loads lesson 06's or 04's model
    (tts_metrics.load_judge, which names the lesson to run), recognizer=False leaves them out.
    Lesson 07.
    """
    from minispeech.dsp import log_mel, log_mel_to_audio

    config = config or MelConfig()
    references = list(references)
    everything: dict[str, list[np.ndarray]] = {}
    if ceilings:
        everything[REFERENCE_ROW] = references
        everything[GRIFFIN_LIM_ROW] = [
            log_mel_to_audio(log_mel(np.asarray(x, np.float32), config), config, length=len(x))
            for x in references
        ]
    for name, waveforms in systems.items():
        if len(waveforms) != len(references):
            raise ValueError(
                f"tts_report: system {name!r} has {len(waveforms)} waveforms for "
                f"{len(references)} references; pass one per reference, in the same order"
            )
        everything[name] = list(waveforms)
    if texts is not None and recognizer is None:
        recognizer = tts_metrics.load_judge()
    rows = []
    for name, waveforms in everything.items():
        scores = [
            score_pair(reference, synthesized, config)
            for reference, synthesized in zip(references, waveforms, strict=True)
        ]
        row = {"system": name}
        for key in scores[0]:
            values = np.array([score[key] for score in scores], dtype=np.float64)
            row[key] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        if texts is not None and recognizer is not False:
            judged = tts_metrics.intelligibility(
                waveforms, texts, recognizer, sample_rate=config.sample_rate
            )
            row["cer"], row["wer"] = judged.cer, judged.wer
        rows.append(row)
    return TTSReport(rows, _format_table(rows))


def plot_comparison(
    reference: np.ndarray,
    systems: dict[str, np.ndarray],
    config: MelConfig | None = None,
    alignment: np.ndarray | None = None,
):
    """One figure: the log-mel of the reference and of each system, their F0 tracks together,
    and (if given) an alignment (T_dec, T_txt) such as Tacotron 2's attention. Returns it."""
    import matplotlib.pyplot as plt

    from minispeech import plot
    from minispeech.dsp import log_mel

    config = config or MelConfig()
    named = {REFERENCE_ROW: reference, **systems}
    n_rows = len(named) + 1 + (alignment is not None)
    figure, axes = plt.subplots(n_rows, 1, figsize=(10, 2.2 * n_rows), squeeze=False)
    axes = axes[:, 0]
    for ax, (name, waveform) in zip(axes, named.items(), strict=False):
        features = log_mel(np.asarray(waveform, np.float32), config)  # (n_mels, T_mel)
        plot.spectrogram(
            features, config.sample_rate, config.hop_length, ax=ax, y_axis="mel", title=name
        )
    f0_axis = axes[len(named)]
    for name, waveform in named.items():
        f0, voiced = tts_metrics.f0_track(np.asarray(waveform, np.float32), config)
        seconds = np.arange(len(f0)) / config.frames_per_second
        f0_axis.plot(seconds, np.where(voiced, f0, np.nan), label=name)
    f0_axis.set(xlabel="seconds", ylabel="F0 (Hz)", title="F0 (YIN; gaps are unvoiced)")
    f0_axis.legend(loc="upper right", fontsize="small")
    if alignment is not None:
        plot.alignment(alignment, ax=axes[-1], xlabel="input token", ylabel="output frame")
    figure.tight_layout()
    return figure


def listening_grid(
    references: Sequence[np.ndarray],
    systems: dict[str, Sequence[np.ndarray]],
    texts: Sequence[str] | None = None,
    sample_rate: int = MelConfig().sample_rate,
    max_rows: int = 5,
):
    """An HTML table of audio players: one row per sentence, the reference then each system."""
    from html import escape

    from IPython.display import HTML, Audio

    columns = {
        REFERENCE_ROW: list(references),
        **{name: list(waves) for name, waves in systems.items()},
    }
    header = "".join(
        f"<th>{escape(name)}</th>"
        for name in (["text"] if texts is not None else []) + list(columns)
    )
    body = []
    for index in range(min(max_rows, len(references))):
        cells = [f"<td>{escape(texts[index])}</td>"] if texts is not None else []
        for waveforms in columns.values():
            player = Audio(np.asarray(waveforms[index], np.float32), rate=sample_rate)._repr_html_()
            cells.append(f"<td>{player}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return HTML(f"<table><tr>{header}</tr>{''.join(body)}</table>")
