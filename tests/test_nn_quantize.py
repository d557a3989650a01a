"""Tests for minispeech.nn.quantize: the nearest code against brute force, the straight-through gradient,
the EMA update by hand, k-means initialization, dead-code restarts, masking, the residual quantizer
(one stage = one quantizer, residuals shrink stage by stage, quantizer dropout), encode/decode and
state_dict round trips, the bitrate formula, and named errors. Every module is tiny."""

from __future__ import annotations

import dataclasses
import io
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minispeech.nn.attention import padding_mask
from minispeech.nn.quantize import (
    QuantizerConfig,
    ResidualQuantizerConfig,
    ResidualVectorQuantizer,
    VectorQuantizer,
    bitrate,
    kmeans,
    nearest_codes,
)

TINY = QuantizerConfig(dim=3, codebook_size=8, kmeans_init=False, dead_code_threshold=0.0)


def keep_mask(lengths, frames: int) -> torch.Tensor:
    """(B, 1, T) bool keep-mask: True on the first lengths[b] frames."""
    return padding_mask(torch.tensor(lengths), frames)[:, None, :]


def clustered(centres: torch.Tensor, batch: int, frames: int, noise: float, seed: int) -> torch.Tensor:
    """(B, D, T) frames, each a random one of centres (C, D) plus Gaussian noise of std `noise`."""
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(centres), (batch, frames), generator=generator)  # (B, T)
    values = centres[picks] + noise * torch.randn(batch, frames, centres.shape[1], generator=generator)
    return values.transpose(1, 2).contiguous()  # (B, D, T)


def build(cls, config, seed: int = 0, dtype=torch.float32):
    torch.manual_seed(seed)
    return cls(config).to(dtype)


def frames_of(x: torch.Tensor) -> torch.Tensor:
    """(B, D, T) -> (B*T, D), batch-major."""
    return x.transpose(1, 2).reshape(-1, x.shape[1])  # (B*T, D)


# 1. the nearest code


def brute_force_nearest(x: torch.Tensor, codebook: torch.Tensor) -> list[int]:
    """For each row, the first index of the smallest sum of squared differences, in plain Python."""
    answer = []
    for row in x.tolist():
        distances = [sum((a - b) ** 2 for a, b in zip(row, code, strict=True)) for code in codebook.tolist()]
        answer.append(distances.index(min(distances)))
    return answer


@st.composite
def integer_case(draw):
    """Small integer entries: the expanded square is exact in float64, and ties are frequent."""
    dim, size, rows = draw(st.integers(1, 3)), draw(st.integers(2, 5)), draw(st.integers(1, 6))
    entries = st.integers(-2, 2)
    codebook = draw(st.lists(st.lists(entries, min_size=dim, max_size=dim), min_size=size, max_size=size))
    x = draw(st.lists(st.lists(entries, min_size=dim, max_size=dim), min_size=rows, max_size=rows))
    return torch.tensor(x, dtype=torch.float64), torch.tensor(codebook, dtype=torch.float64)


@settings(max_examples=60, deadline=None)
@given(case=integer_case())
def test_nearest_codes_matches_brute_force_and_breaks_ties_by_the_first_index(case):
    x, codebook = case
    codes = nearest_codes(x, codebook)
    assert codes.dtype == torch.int64 and codes.shape == (len(x),)
    assert codes.tolist() == brute_force_nearest(x, codebook)


def test_nearest_codes_on_random_floats_and_a_planted_tie():
    generator = torch.Generator().manual_seed(0)
    x, codebook = torch.randn(50, 4, generator=generator), torch.randn(7, 4, generator=generator)
    codes = nearest_codes(x, codebook)
    exact = torch.cdist(x.double(), codebook.double()).pow(2)  # (N, V)
    chosen = exact.gather(1, codes[:, None])[:, 0]
    torch.testing.assert_close(chosen, exact.min(dim=1).values, atol=1e-5, rtol=0)
    twins = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # codes 0 and 1 are equal
    assert nearest_codes(torch.tensor([[0.9, 0.1]]), twins).tolist() == [0]
    assert nearest_codes(torch.zeros(0, 2), twins).shape == (0,)


# 2. the straight-through estimator


@pytest.mark.parametrize("kind", ["vq", "rvq"])
def test_straight_through_gradient_is_the_identity(kind):
    if kind == "vq":
        module = build(VectorQuantizer, TINY, dtype=torch.float64).train()
    else:
        module = build(ResidualVectorQuantizer, ResidualQuantizerConfig(TINY, n_quantizers=3), dtype=torch.float64)
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    quantized = module(x).quantized
    assert not torch.allclose(quantized, x)  # it did quantize
    jacobian = torch.autograd.functional.jacobian(lambda values: module(values).quantized, x)  # (B, D, T, B, D, T)
    torch.testing.assert_close(jacobian.reshape(24, 24), torch.eye(24, dtype=torch.float64), atol=0, rtol=0)


def test_padded_frames_are_zero_and_get_no_gradient():
    vq = build(VectorQuantizer, TINY).train()
    x = torch.randn(2, 3, 5, requires_grad=True)
    mask = keep_mask([5, 2], 5)
    output = vq(x, mask)
    padding = ~mask.expand_as(x)
    assert (output.quantized[padding] == 0).all() and (output.codes[:, 2:][1] == 0).all()
    output.quantized.sum().backward()
    assert (x.grad[padding] == 0).all() and (x.grad[~padding] == 1).all()


def test_a_bfloat16_input_is_quantized_with_float32_statistics():
    vq = build(VectorQuantizer, dataclasses.replace(TINY, kmeans_init=True, dead_code_threshold=1.0)).train()
    x = torch.randn(2, 3, 6).bfloat16()
    output = vq(x)  # an index_add_ of bf16 vectors into float32 sums would raise
    assert vq.cluster_size.dtype == vq.codebook.dtype == torch.float32 and vq.initialized.item()
    assert output.quantized.dtype == torch.float32 and torch.isfinite(output.commitment_loss)
    assert torch.equal(vq.encode(x), vq.encode(x.float()))


# 3. the EMA update by hand


def test_ema_moves_each_code_toward_the_mean_of_its_vectors_by_the_decay():
    decay, epsilon = 0.9, 1e-5
    config = QuantizerConfig(dim=2, codebook_size=2, ema_decay=decay, epsilon=epsilon, dead_code_threshold=0.0,
                             kmeans_init=False)  # fmt: skip
    vq = build(VectorQuantizer, config, dtype=torch.float64).train()
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
        vq.embedding_sum.copy_(vq.codebook)  # m = n c with n = 1
    assert vq.cluster_size.tolist() == [1.0, 1.0]
    vectors = [[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [9.0, 9.0]]  # three to code 0, one to code 1
    x = torch.tensor(vectors, dtype=torch.float64).T[None]  # (1, 2, 4)
    output = vq(x)
    assert output.codes.tolist() == [[0, 0, 0, 1]]
    n0, n1 = decay * 1 + (1 - decay) * 3, decay * 1 + (1 - decay) * 1  # 1.2, 1.0
    m0, m1 = (1 - decay) * 3.0, decay * 10 + (1 - decay) * 9  # both coordinates alike: 0.3, 9.9
    total = n0 + n1
    smoothed0 = (n0 + epsilon) / (total + 2 * epsilon) * total
    smoothed1 = (n1 + epsilon) / (total + 2 * epsilon) * total
    torch.testing.assert_close(vq.cluster_size, torch.tensor([n0, n1], dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(vq.embedding_sum, torch.tensor([[m0, m0], [m1, m1]], dtype=torch.float64),
                               atol=1e-12, rtol=0)  # fmt: skip
    expected = torch.tensor([[m0 / smoothed0] * 2, [m1 / smoothed1] * 2], dtype=torch.float64)
    torch.testing.assert_close(vq.codebook, expected, atol=1e-12, rtol=0)
    # code 1 had one vector and n = 1: it moved by exactly the decay, c <- γ c + (1 - γ) mean (up to ε)
    torch.testing.assert_close(vq.codebook[1], torch.full((2,), decay * 10 + (1 - decay) * 9, dtype=torch.float64),
                               atol=1e-4, rtol=0)  # fmt: skip
    p = torch.tensor([0.75, 0.25], dtype=torch.float64)
    torch.testing.assert_close(output.perplexity, torch.exp(-(p * p.log()).sum()))
    assert output.used_fraction.item() == 1.0


def test_eval_mode_and_encode_never_move_the_codebook():
    vq = build(VectorQuantizer, dataclasses.replace(TINY, kmeans_init=True, dead_code_threshold=1.0))
    before = {name: value.clone() for name, value in vq.state_dict().items()}
    x = torch.randn(2, 3, 6)
    vq.eval()(x)
    vq.train().encode(x)
    for name, value in vq.state_dict().items():
        assert torch.equal(value, before[name]), name
    vq(x)
    assert not torch.equal(vq.codebook, before["codebook"]) and vq.initialized.item()


# 4. k-means initialization and dead codes

CORNERS = torch.tensor([[5.0, 5.0], [-5.0, 5.0], [5.0, -5.0], [-5.0, -5.0]])


def test_kmeans_init_puts_the_codes_on_the_cluster_centres():
    config = QuantizerConfig(dim=2, codebook_size=4, dead_code_threshold=0.0, kmeans_init=True, kmeans_iterations=5)
    x = clustered(CORNERS, 4, 100, noise=0.5, seed=1)  # (4, 2, 100)
    codebooks = []
    for _ in range(2):
        vq = build(VectorQuantizer, config, seed=3).train()
        assert not vq.initialized.item()
        vq(x)
        codebooks.append(vq.codebook.clone())
    assert torch.equal(codebooks[0], codebooks[1])  # deterministic given the seed
    distances = torch.cdist(CORNERS, codebooks[0])  # (4 centres, 4 codes)
    assert distances.min(dim=1).values.max() < 0.2, f"codes {codebooks[0]} are not on the centres {CORNERS}"
    assert sorted(distances.argmin(dim=1).tolist()) == [0, 1, 2, 3]  # one code per cluster
    assert vq.initialized.item() and math.isclose(vq.cluster_size.sum().item(), 400.0, rel_tol=1e-5)


def test_kmeans_function_returns_centres_and_counts():
    torch.manual_seed(0)
    vectors = frames_of(clustered(CORNERS, 1, 200, noise=0.3, seed=2))  # (200, 2)
    centres, counts = kmeans(vectors, 4, iterations=5)
    assert centres.shape == (4, 2) and counts.sum().item() == 200
    assert torch.cdist(CORNERS, centres).min(dim=1).values.max() < 0.2
    few, few_counts = kmeans(vectors[:2], 3, iterations=2)  # more clusters than vectors: still 3 centres
    assert few.shape == (3, 2) and few_counts.sum().item() == 2


@pytest.mark.parametrize("ema_decay", [0.99, 0.0])
@pytest.mark.parametrize("threshold", [1.0, 0.0])
def test_dead_codes_are_restarted_on_data(ema_decay, threshold):
    config = QuantizerConfig(dim=2, codebook_size=4, ema_decay=ema_decay, dead_code_threshold=threshold,
                             kmeans_init=False)  # fmt: skip
    vq = build(VectorQuantizer, config).train()
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[3.0, 0.0], [-3.0, 0.0], [100.0, 100.0], [100.0, 100.0]]))
        if ema_decay > 0:
            vq.embedding_sum.copy_(vq.codebook)
    centres = torch.tensor([[3.0, 0.0], [-3.0, 0.0]])
    for step in range(3):
        vq(clustered(centres, 2, 64, noise=0.5, seed=step))
    usage = vq.eval()(clustered(centres, 2, 64, noise=0.5, seed=10)).used_fraction.item()
    if threshold > 0:
        assert usage == 1.0, "the two far codes were never restarted"
        assert vq.codebook.abs().max() < 10
    else:  # the control: without restarts the far codes stay unused
        assert usage == 0.5 and (vq.codebook[2:] > 90).all()  # still far (the smoothing moves them a little)


def test_a_codebook_learnt_by_gradient_gets_a_codebook_loss_and_a_gradient():
    config = dataclasses.replace(TINY, ema_decay=0.0, dead_code_threshold=1.0)
    vq = build(VectorQuantizer, config).train()
    assert isinstance(vq.codebook, torch.nn.Parameter) and "embedding_sum" not in vq.state_dict()
    optimizer = torch.optim.SGD(vq.parameters(), lr=0.5)
    x = torch.randn(2, 3, 16)
    losses = []
    for _ in range(5):
        output = vq(x)  # restarts act in place on the parameter before backward
        optimizer.zero_grad()
        (output.commitment_loss + output.codebook_loss).backward()
        assert vq.codebook.grad.abs().sum() > 0
        optimizer.step()
        losses.append(output.codebook_loss.item())
    assert losses[-1] < losses[0]
    ema = build(VectorQuantizer, TINY)
    assert list(ema.parameters()) == [] and ema(x).codebook_loss.item() == 0.0


# 5. masking


def test_masked_frames_change_no_state_and_no_statistic():
    config = QuantizerConfig(dim=3, codebook_size=6, ema_decay=0.9, dead_code_threshold=1.5, kmeans_init=True,
                             kmeans_iterations=3)  # fmt: skip
    lengths = [10, 6]
    mask = keep_mask(lengths, 10)
    x = torch.randn(2, 3, 10, generator=torch.Generator().manual_seed(0)) * mask
    noisy = torch.where(mask, x, torch.full_like(x, 1e3))
    joined = torch.cat([x[:1, :, :10], x[1:, :, :6]], dim=2)  # (1, 3, 16): the real frames alone, in order
    runs = {}
    inputs = {"zeros": (x, mask), "noise": (noisy, mask), "joined": (joined, None)}
    for name, (values, values_mask) in inputs.items():
        vq = build(VectorQuantizer, config, seed=5).train()
        torch.manual_seed(7)
        outputs = [vq(values, values_mask) for _ in range(3)]
        runs[name] = (vq.state_dict(), outputs[-1])
    for name in ("noise", "joined"):
        state, output = runs[name]
        for key, value in runs["zeros"][0].items():
            torch.testing.assert_close(state[key], value, msg=f"{name}: {key} differs")
        for field in ("commitment_loss", "perplexity", "used_fraction"):
            torch.testing.assert_close(getattr(output, field), getattr(runs["zeros"][1], field))
    assert runs["zeros"][1].codes[1, 6:].eq(0).all()


# 6. the residual quantizer


def test_one_stage_residual_quantizer_equals_one_quantizer():
    config = dataclasses.replace(TINY, kmeans_init=True, dead_code_threshold=1.0)
    vq = build(VectorQuantizer, config).train()
    rvq = build(ResidualVectorQuantizer, ResidualQuantizerConfig(config, n_quantizers=1)).train()
    assert torch.equal(rvq.quantizers[0].codebook, vq.codebook)  # same seed, same draws
    mask = keep_mask([7, 4], 7)
    for step in range(3):
        x = torch.randn(2, 3, 7, generator=torch.Generator().manual_seed(step))
        torch.manual_seed(step)
        single = vq(x, mask)
        torch.manual_seed(step)
        residual = rvq(x, mask)
        assert torch.equal(residual.quantized, single.quantized)
        assert torch.equal(residual.codes, single.codes[:, None])
        assert torch.equal(residual.commitment_loss, single.commitment_loss)
        assert torch.equal(residual.perplexities, single.perplexity[None])
    for key, value in vq.state_dict().items():
        assert torch.equal(rvq.quantizers[0].state_dict()[key], value), key


def test_residuals_shrink_stage_by_stage_and_more_stages_reconstruct_better():
    centres = torch.randn(8, 4, generator=torch.Generator().manual_seed(0)) * 3  # 8 clusters, 4 codes a stage
    quantizer = QuantizerConfig(dim=4, codebook_size=4, dead_code_threshold=1.0)
    config = ResidualQuantizerConfig(quantizer, n_quantizers=3)
    rvq = build(ResidualVectorQuantizer, config).train()
    for step in range(8):
        rvq(clustered(centres, 4, 32, noise=0.3, seed=step))
    rvq.eval()
    x = clustered(centres, 4, 32, noise=0.3, seed=100)  # held out
    codes = rvq.encode(x)  # (B, 3, T)
    norms = [x.norm(dim=1).mean().item()]
    errors = []
    for n in (1, 2, 3):
        reconstruction = rvq.decode(codes[:, :n])
        norms.append((x - reconstruction).norm(dim=1).mean().item())
        errors.append((x - rvq(x, n_quantizers=n).quantized).pow(2).mean().item())
    assert all(norms[i + 1] < norms[i] for i in range(3)), f"residual norms by stage {norms}"
    assert all(errors[i + 1] < errors[i] for i in range(2)), f"errors with 1, 2, 3 stages {errors}"
    assert norms[-1] < 0.5 * norms[1]


def test_quantizer_dropout_draws_every_n_in_range_in_training_only():
    quantizer = dataclasses.replace(TINY, codebook_size=2)
    config = ResidualQuantizerConfig(quantizer, n_quantizers=4, quantizer_dropout=0.5)
    rvq = build(ResidualVectorQuantizer, config).train()
    torch.manual_seed(0)
    draws = [rvq.sample_n_quantizers() for _ in range(400)]
    assert set(draws) == {1, 2, 3, 4}
    assert abs(draws.count(4) / 400 - (0.5 + 0.5 / 4)) < 0.08  # kept, or dropped and drawn 4
    torch.manual_seed(0)
    assert [rvq.sample_n_quantizers() for _ in range(400)] == draws  # seeded: reproducible
    always = build(ResidualVectorQuantizer, dataclasses.replace(config, quantizer_dropout=1.0)).train()
    x = torch.randn(2, 3, 5)
    torch.manual_seed(1)
    used = {always(x).codes.shape[1] for _ in range(30)}
    assert used == {1, 2, 3, 4}
    assert always(x, n_quantizers=2).codes.shape == (2, 2, 5)  # an explicit n is never dropped
    always.eval()
    assert {always(x).codes.shape[1] for _ in range(10)} == {4}
    never = build(ResidualVectorQuantizer, dataclasses.replace(config, quantizer_dropout=0.0))
    state = torch.random.get_rng_state()
    assert [never.sample_n_quantizers() for _ in range(5)] == [4] * 5
    assert torch.equal(torch.random.get_rng_state(), state)  # p = 0 draws nothing


# 7. round trips


def test_decode_of_encode_is_the_eval_output_exactly():
    config = ResidualQuantizerConfig(dataclasses.replace(TINY, kmeans_init=True, dead_code_threshold=1.0),
                                     n_quantizers=3)  # fmt: skip
    rvq = build(ResidualVectorQuantizer, config).train()
    for step in range(2):
        rvq(torch.randn(2, 3, 9, generator=torch.Generator().manual_seed(step)))
    rvq.eval()
    x = torch.randn(3, 3, 7)
    for n in (1, 2, 3):
        output = rvq(x, n_quantizers=n)
        codes = rvq.encode(x, n)
        assert codes.shape == (3, n, 7) and codes.dtype == torch.int64
        assert torch.equal(codes, output.codes) and torch.equal(rvq.decode(codes), output.quantized)
    vq = rvq.quantizers[0]
    assert torch.equal(vq.decode(vq.encode(x)), vq(x).quantized)
    assert rvq.encode(torch.zeros(1, 3, 0)).shape == (1, 3, 0)  # no frames, no codes


@pytest.mark.parametrize("ema_decay", [0.9, 0.0])
def test_state_dict_round_trip_restores_codebooks_and_ema_buffers(ema_decay):
    quantizer = QuantizerConfig(dim=3, codebook_size=5, ema_decay=ema_decay, dead_code_threshold=1.0)
    config = ResidualQuantizerConfig(quantizer, n_quantizers=2)
    rvq = build(ResidualVectorQuantizer, config).train()
    for step in range(3):
        rvq(torch.randn(2, 3, 8, generator=torch.Generator().manual_seed(step)))
    buffer = io.BytesIO()
    torch.save(rvq.state_dict(), buffer)
    buffer.seek(0)
    restored = build(ResidualVectorQuantizer, config, seed=1)
    assert not restored.quantizers[0].initialized.item()
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    state = rvq.state_dict()
    expected_keys = {"codebook", "cluster_size", "initialized"} | ({"embedding_sum"} if ema_decay else set())
    assert {key.split(".")[-1] for key in state} == expected_keys
    for key, value in restored.state_dict().items():
        assert torch.equal(value, state[key]), key
    x = torch.randn(2, 3, 6)
    rvq.eval(), restored.eval()
    assert torch.equal(restored(x).quantized, rvq(x).quantized)
    restored.train()
    torch.manual_seed(2)
    restored(x)
    rvq.train()
    torch.manual_seed(2)
    rvq(x)  # the same training step on both: no second k-means after loading
    for key, value in restored.state_dict().items():
        assert torch.equal(value, rvq.state_dict()[key]), key


# 8. bitrate


def test_bitrate_formula():
    assert bitrate(8, 1024, 75) == 6000.0  # EnCodec 24 kHz: 8 codebooks x 10 bits x 75 Hz
    assert bitrate(1, 1024, 75) == 750.0
    assert bitrate(4, 256, 50) == 1600.0
    assert math.isclose(bitrate(2, 1000, 86.1328125), 2 * math.log2(1000) * 86.1328125)


# 9. errors


@pytest.mark.parametrize("change, message", [
    ({"dim": 0}, "dim >= 1"), ({"codebook_size": 1}, "codebook_size >= 2"),
    ({"commitment_weight": -0.1}, "commitment_weight >= 0"), ({"ema_decay": 1.0}, r"ema_decay in \[0, 1\)"),
    ({"epsilon": 0.0}, "epsilon > 0"), ({"dead_code_threshold": -1.0}, "dead_code_threshold >= 0"),
    ({"kmeans_init": 1}, "kmeans_init True or False"), ({"kmeans_iterations": 0}, "kmeans_iterations >= 1"),
])  # fmt: skip
def test_quantizer_config_rejects_bad_values(change, message):
    with pytest.raises(ValueError, match=f"QuantizerConfig: need {message}"):
        dataclasses.replace(QuantizerConfig(), **change)


@pytest.mark.parametrize("change, message", [
    ({"n_quantizers": 0}, "n_quantizers >= 1"), ({"quantizer_dropout": 1.5}, r"quantizer_dropout in \[0, 1\]"),
    ({"quantizer": {"dim": 4}}, "quantizer a QuantizerConfig"),
])  # fmt: skip
def test_residual_quantizer_config_rejects_bad_values(change, message):
    with pytest.raises(ValueError, match=f"ResidualQuantizerConfig: need {message}"):
        dataclasses.replace(ResidualQuantizerConfig(), **change)


def test_bad_inputs_raise_errors_that_name_the_problem():
    vq = VectorQuantizer(TINY)
    rvq = ResidualVectorQuantizer(ResidualQuantizerConfig(TINY, n_quantizers=2))
    x = torch.zeros(2, 3, 5)
    with pytest.raises(ValueError, match=r"VectorQuantizer: x must be \(B, D = 3, T\).*got shape \(2, 5, 3\)"):
        vq(x.transpose(1, 2))
    with pytest.raises(ValueError, match=r"ResidualVectorQuantizer: x must be \(B, D = 3, T\).*\(2, 4, 5\)"):
        rvq(torch.zeros(2, 4, 5))
    with pytest.raises(ValueError, match="floats, got dtype torch.int64"):
        vq(x.long())
    with pytest.raises(ValueError, match=r"mask must be \(B, 1, T\) = \(2, 1, 5\).*got \(2, 5\)"):
        vq(x, keep_mask([5, 3], 5)[:, 0])
    with pytest.raises(ValueError, match=r"ResidualVectorQuantizer: mask must be \(B, 1, T\)"):
        rvq(x, keep_mask([5], 5))
    for bad in (0, 3, 2.0, True):
        with pytest.raises(ValueError, match=r"n_quantizers must be an int in \[1, 2\]"):
            rvq(x, n_quantizers=bad)
    with pytest.raises(ValueError, match=r"encode: n_quantizers must be an int in \[1, 2\].*got 3"):
        rvq.encode(x, 3)
    with pytest.raises(ValueError, match=r"codes must lie in \[0, 8\), got values in \[0, 8\]"):
        vq.decode(torch.tensor([[0, 8]]))
    with pytest.raises(ValueError, match=r"VectorQuantizer.decode: codes must be \(B, T\) integers"):
        vq.decode(torch.zeros(2, 1, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"ResidualVectorQuantizer.decode: codes must be \(B, Q, T\) integers"):
        rvq.decode(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"decode \(codes.shape\[1\]\): n_quantizers must be .* got 3"):
        rvq.decode(torch.zeros(1, 3, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"nearest_codes: need x \(N, D\) and codebook \(V, D\) with one D"):
        nearest_codes(torch.zeros(4, 2), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="bitrate: need n_quantizers >= 1, codebook_size >= 2"):
        bitrate(0, 1024, 75)
    with pytest.raises(ValueError, match="bitrate: need"):
        bitrate(8, 1, 75)
    with pytest.raises(ValueError, match=r"kmeans: need vectors \(N, D\) with N >= 1"):
        kmeans(torch.zeros(0, 2), 2, 1)
