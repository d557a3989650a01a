"""A deliberately wrong solution FAILs at its exercise, and nowhere else in the notebook.

For each mutation below: take solutions/NN_topic.ipynb, change one line inside one exercise's
solution region (a flipped sign, an off-by-one, a dropped term: one per kind of exercise),
run `pytest --nbval-lax` on the mutated copy in a temporary folder in a subprocess under the
ci profile, and read the exercise report: it must list exactly one problem, FAIL at that
exercise. A demo cell or downstream check that also fails would mean one mistake fails two
cells (issue 10). Slow (a notebook run each, see MUTATIONS for measured seconds): marked
`notebook` and skipped unless `--run-notebooks`; run one at a time on a shared machine:

    MINISPEECH_PROFILE=ci pytest -q --run-notebooks tests/test_mutations.py

Lessons 04-09 train models, but only in cells after their last `# TEST:` cell: their mutated
copies are cut after that cell (`exercises_only`), so they check that one mistake fails one
exercise among the exercise sections, not the training sections below them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REPORT_ROW = re.compile(r"^  (?P<status>TODO|FAIL|CHECK|ERROR)\s+(?P<rest>.*)$")


@dataclass(frozen=True)
class Mutation:
    notebook: str  # file name in solutions/
    exercise: str  # "1.4": the report must say FAIL at "Exercise 1.4"
    kind: str  # what kind of mistake, for the test id
    old: str  # a line fragment inside the exercise's solution region
    new: str  # what it becomes
    exercises_only: bool = False  # drop every cell after the last `# TEST:` cell (no training)
    known_issue: str = ""  # why this mutation still fails more than its exercise (strict xfail)


MUTATIONS = [
    Mutation("00_setup_data_text.ipynb", "0.2", "off-by-one",
             "ids.append(index + len(SPECIALS))", "ids.append(index + len(SPECIALS) - 1)"),
    Mutation("00_setup_data_text.ipynb", "0.1", "dropped-term",
             'words += [ONES[g // 100], "hundred"]', "words += [ONES[g // 100]]"),
    Mutation("01_stft.ipynb", "1.1", "off-by-one",
             "n_frames = 1 + (len(x) - frame_length) // hop_length",
             "n_frames = (len(x) - frame_length) // hop_length"),
    Mutation("01_stft.ipynb", "1.4", "dropped-term",
             "np.exp(2j * np.pi * phases)", "np.exp(1j * phases)"),
    Mutation("02_mel_mfcc.ipynb", "2.3", "flipped-operation",
             "basis[0] /= np.sqrt(2.0)", "basis[0] *= np.sqrt(2.0)"),
    Mutation("02_mel_mfcc.ipynb", "2.4", "off-by-one",
             "for lag in range(1, max_lag + 1):", "for lag in range(1, max_lag):"),
    Mutation("03_hmm.ipynb", "3.1", "dropped-term",
             "+ log_A, axis=0) + log_B[t]", "+ log_A, axis=0)"),
    Mutation("03_hmm.ipynb", "3.2", "flipped-sign",
             "back_pointer[t] = np.argmax(scores, axis=0)", "back_pointer[t] = np.argmin(scores, axis=0)"),
    Mutation("04_ctc.ipynb", "4.2", "dropped-term",
             "if label != previous and label != blank:", "if label != blank:", exercises_only=True),
    Mutation("05_attention.ipynb", "5.1", "wrong-axis",
             "weights = torch.softmax(energies, dim=-1)", "weights = torch.softmax(energies, dim=0)",
             exercises_only=True),
    Mutation("06_transformer.ipynb", "6.1", "dropped-term",
             "key.transpose(-2, -1)) / math.sqrt(query.shape[-1])", "key.transpose(-2, -1))",
             exercises_only=True),
    Mutation("07_tacotron2.ipynb", "7.1", "dropped-term",
             "/ (2 * sigma**2))  # (T, N)", "/ sigma**2)  # (T, N)", exercises_only=True),
    Mutation("07_tacotron2.ipynb", "7.2", "off-by-one",
             "last_step = (mel_lengths - 1) // r", "last_step = mel_lengths // r", exercises_only=True),
    Mutation("07_tacotron2.ipynb", "7.3", "dropout-off-at-inference",
             "decoder.prenet.dropout, training=True)", "decoder.prenet.dropout, training=decoder.training)",
             exercises_only=True),
    Mutation("07_tacotron2.ipynb", "7.4", "dropped-term",
             "return mel, mel + model.postnet(mel, mel_lengths)", "return mel, model.postnet(mel, mel_lengths)",
             exercises_only=True),
    Mutation("08_fastspeech2.ipynb", "8.1", "round-half-even",
             "torch.floor(durations.double() / speed + 0.5)", "torch.round(durations.double() / speed)",
             exercises_only=True),
    Mutation("08_fastspeech2.ipynb", "8.2", "off-by-one",
             "(normalized[..., None] > boundaries)", "(normalized[..., None] >= boundaries)",
             exercises_only=True),
    Mutation("08_fastspeech2.ipynb", "8.3", "dropped-term",
             "durations[max(token, 0)] += 1", "durations[token] += 1", exercises_only=True),
    Mutation("08_fastspeech2.ipynb", "8.4", "wrong-axis",
             "log_probs = scores.log_softmax(-1)", "log_probs = scores.log_softmax(1)", exercises_only=True),
    Mutation("09_hifigan.ipynb", "9.1", "sum-for-mean",
             "torch.stack(outputs).mean(dim=0)", "torch.stack(outputs).sum(dim=0)", exercises_only=True),
    Mutation("09_hifigan.ipynb", "9.2", "zero-padding",
             'mode="reflect"', 'mode="constant"', exercises_only=True),
    Mutation("09_hifigan.ipynb", "9.3", "wrong-target",
             "torch.mean((1 - g) ** 2) for g in generated_scores", "torch.mean(g**2) for g in generated_scores",
             exercises_only=True),
    Mutation("10_vits.ipynb", "10.1", "flipped-sign",
             "return torch.cat([x0, y1], dim=1), log_scale.sum(dim=(1, 2))",
             "return torch.cat([x0, y1], dim=1), -log_scale.sum(dim=(1, 2))", exercises_only=True),
    Mutation("10_vits.ipynb", "10.2", "mean-for-sum",
             "log_likelihood = per_channel.sum(dim=1)", "log_likelihood = per_channel.mean(dim=1)", exercises_only=True),
    Mutation("10_vits.ipynb", "10.3", "swapped-terms",
             "per_element = prior_log_std - posterior_log_std - 0.5",
             "per_element = posterior_log_std - prior_log_std - 0.5", exercises_only=True),
    Mutation("10_vits.ipynb", "10.4", "round-for-ceil",
             "durations = torch.ceil(torch.exp(log_duration) * length_scale)",
             "durations = torch.round(torch.exp(log_duration) * length_scale)", exercises_only=True),
    Mutation("11_codec.ipynb", "11.1", "no-straight-through",
             "return x + (quantized - x).detach(), codes", "return quantized, codes", exercises_only=True),
    Mutation("11_codec.ipynb", "11.2", "flipped-sign",
             "residual = residual - chosen", "residual = residual + chosen", exercises_only=True),
    Mutation("11_codec.ipynb", "11.3", "swapped-decay",
             "cluster_size = decay * cluster_size + (1 - decay) * counts",
             "cluster_size = (1 - decay) * cluster_size + decay * counts", exercises_only=True),
    Mutation("11_codec.ipynb", "11.4", "natural-log",
             "return n_quantizers * math.log2(codebook_size) * sample_rate / hop_length",
             "return n_quantizers * math.log(codebook_size) * sample_rate / hop_length", exercises_only=True),
    Mutation("12_valle.ipynb", "12.1", "inclusive-centroid",
             "own_centroids = (totals[:, None, :] - embeddings) / (utterances - 1)",
             "own_centroids = totals[:, None, :] / utterances", exercises_only=True),
    Mutation("12_valle.ipynb", "12.2", "reads-the-future",
             "reads_audio = audio[:, :, None] & audio[:, None, :] & earlier_or_same",
             "reads_audio = audio[:, :, None] & audio[:, None, :]", exercises_only=True),
    Mutation("12_valle.ipynb", "12.3", "ascending-sort",
             "torch.sort(logits, dim=-1, descending=True)", "torch.sort(logits, dim=-1)", exercises_only=True),
    Mutation("12_valle.ipynb", "12.4", "off-by-one",
             "for c in range(stage))", "for c in range(stage + 1))", exercises_only=True),
]  # fmt: skip


def mutate(notebook: dict, mutation: Mutation) -> dict:
    """The notebook with `mutation.old` replaced once, inside a solution region."""
    hits = 0
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines, inside = "".join(cell["source"]).splitlines(keepends=True), False
        for index, line in enumerate(lines):
            stripped = line.strip()
            if stripped.startswith("### BEGIN SOLUTION"):
                inside = True
            elif stripped.startswith("### END SOLUTION"):
                inside = False
            elif inside and mutation.old in line:
                lines[index] = line.replace(mutation.old, mutation.new)
                hits += 1
        cell["source"] = lines
    if hits != 1:
        raise ValueError(
            f"{mutation.notebook}: {mutation.old!r} occurs {hits} times inside solution regions; "
            "the mutation needs exactly one (update MUTATIONS in tests/test_mutations.py)"
        )
    if mutation.exercises_only:
        tests = [i for i, cell in enumerate(notebook["cells"]) if is_test_cell(cell)]
        notebook["cells"] = notebook["cells"][: tests[-1] + 1]
    return notebook


def is_test_cell(cell: dict) -> bool:
    return cell["cell_type"] == "code" and "".join(cell["source"]).startswith("# TEST:")


def report_rows(output: str) -> list[tuple[str, str]]:
    """(status, rest of the row) of every problem row in the exercise report."""
    section = output.split("Exercise report ==", 1)[-1]
    rows = []
    for line in section.splitlines():
        match = REPORT_ROW.match(line)
        if match:
            rows.append((match.group("status"), match.group("rest")))
    return rows


def test_every_mutation_applies_to_exactly_one_solution_line():
    for mutation in MUTATIONS:
        notebook = json.loads((REPO_ROOT / "solutions" / mutation.notebook).read_text())
        mutate(notebook, mutation)  # raises unless exactly one line matches


def test_report_rows_are_parsed():
    output = (
        "== Exercise report ==\nExercise report for x.ipynb\n"
        "  FAIL   Exercise 0.2 (encode) — encode('a'): element [0] is 3, expected 4\n"
        "           Hint: ...\n  21 passed, 1 failed\n"
    )
    assert report_rows(output) == [
        ("FAIL", "Exercise 0.2 (encode) — encode('a'): element [0] is 3, expected 4")
    ]


def _mutation_param(mutation: Mutation):
    test_id = f"{mutation.notebook.split('_')[0]}-{mutation.exercise}-{mutation.kind}"
    marks = (
        [pytest.mark.xfail(strict=True, reason=mutation.known_issue)]
        if mutation.known_issue
        else []
    )
    return pytest.param(mutation, id=test_id, marks=marks)


@pytest.mark.notebook
@pytest.mark.parametrize("mutation", [_mutation_param(m) for m in MUTATIONS])
def test_a_mutated_solution_fails_only_at_its_exercise(mutation: Mutation, tmp_path: Path):
    notebook = mutate(
        json.loads((REPO_ROOT / "solutions" / mutation.notebook).read_text()), mutation
    )
    path = tmp_path / mutation.notebook
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--nbval-lax", "-c", str(REPO_ROOT / "pyproject.toml"),
         "--rootdir", str(tmp_path), "-p", "minispeech.grading.report", "--color=no", path.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**os.environ, "MINISPEECH_PROFILE": "ci"},
    )  # fmt: skip
    output = result.stdout + result.stderr
    rows = report_rows(output)
    assert len(rows) == 1, (
        f"expected one FAIL at Exercise {mutation.exercise}, got {rows}\n{output[-3000:]}"
    )
    status, rest = rows[0]
    assert status == "FAIL" and rest.startswith(f"Exercise {mutation.exercise} "), rows
