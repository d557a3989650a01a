"""Vector quantization for neural audio codecs: VQ-VAE (van den Oord et al., 2017) and the residual VQ of
SoundStream (Zeghidour et al., 2021) and EnCodec (Défossez et al., 2022).

QuantizerConfig          frozen: dim, codebook_size, commitment weight, EMA decay (0 = a codebook learnt by
                         gradient), Laplace epsilon, dead-code threshold, k-means initialization
nearest_codes            x (N, D), codebook (V, D) -> index of the nearest code (N,), by the expanded square
straight_through         x + sg(q - x): the value of q, the gradient of x
kmeans                   k-means++ seeding, then Lloyd iterations -> centres (V, D), counts (V,)
VectorQuantizer          one codebook: nearest code, straight-through, commitment loss, EMA codebook
                         updates, k-means init, dead-code restart; encode (B, D, T) -> (B, T), decode back
ResidualQuantizerConfig  frozen: the stages' QuantizerConfig, n_quantizers, quantizer_dropout
ResidualVectorQuantizer  n_quantizers codebooks, each quantizing what the ones before it left; quantizer dropout
bitrate                  bits per second = n_quantizers * log2(codebook_size) * frame_rate

One quantizer, with codebook c_1..c_V (V codes of size D) and sg = stop-gradient (.detach()):
    k(x)       = argmin_k ||x - c_k||^2 = argmin_k (||x||^2 - 2 x.c_k + ||c_k||^2)   one matrix product
    q          = c_k(x);   forward output x + sg(q - x): q's value, d output / d x = I  (argmin has no gradient)
    commitment = β mean ||x - sg(q)||^2     keeps the encoder near its codes (β in VQ-VAE's Eq. 3)
    codebook   = mean ||sg(x) - q||^2       moves the codes, only when ema_decay = 0; else the EMA does it
The losses are means over the real frames and the D entries; add them to the training loss as they are.
EMA codebook (VQ-VAE's appendix), decay γ, on each training batch with count_k frames and sum_k of them
assigned to code k:
    n_k <- γ n_k + (1 - γ) count_k      m_k <- γ m_k + (1 - γ) sum_k
    ñ_k = (n_k + ε) / (N + V ε) * N,  N = Σ n_k  (Laplace smoothing: no division by 0)      c_k = m_k / ñ_k
so a code whose count stays n_k moves c <- γ c + (1 - γ) mean of its vectors. A new quantizer holds n_k = 1,
m_k = c_k (one pseudo-vector on each code). Codes start as N(0, 1) entries; with kmeans_init the first
training batch replaces them by k-means centres (n_k = cluster sizes). After each update, a code whose n_k
(its usage, in frames per batch; tracked with γ = 0.99 in gradient mode too) is below dead_code_threshold
is restarted on a random real vector of the batch, with n_k = the threshold. Updates run in training mode
only; encode, decode and eval-mode forward never change the state. Frames past the mask are not
quantized: their codes are 0, their vectors 0, and they count in no update, loss, perplexity or usage.
In eval mode forward returns the code vectors themselves, so decode(encode(x)) equals it exactly.

Residual VQ, stages Q_1..Q_K (K = n_quantizers):
    r_1 = x,   q_i = Q_i(r_i),   r_{i+1} = r_i - sg(q_i),   output x + sg(Σ_i q_i - x)
Stage i sees what stages 1..i-1 left, so each adds log2(V) bits per frame. r_i keeps x's gradient, so the
commitment loss of stage i pulls x toward its partial sum q_1 + .. + q_i (EnCodec subtracts the
straight-through output instead, which, without projections, leaves a gradient in the first stage's term
only). Quantizer dropout:
in training, with probability p per batch, only the first n ~ U{1..K} stages run (torch's global
generator), so the decoder learns every bitrate from 1 to K codebooks with one model.
Shapes   B batch, D code size (dim), T frames, V codebook size, Q stages used, N vectors;
         x (B, D, T), mask (B, 1, T) keep-mask (bool or 0/1) or None, codes (B, T) or (B, Q, T) int64.
Taught in lessons/11_codec.ipynb (exercises: nearest code with the straight-through, the residual loop,
the EMA update, the bitrate).
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from minispeech.nn.wavenet import check_masked_input

USAGE_DECAY = 0.99  # γ of the usage counts n_k when the codebook learns by gradient (ema_decay = 0)


@dataclasses.dataclass(frozen=True)
class QuantizerConfig:
    dim: int = 128  # D: the size of a code vector (the encoder's output channels)
    codebook_size: int = 1024  # V codes: log2(V) bits per frame
    commitment_weight: float = 0.25  # β
    ema_decay: float = 0.99  # γ of the EMA codebook; 0 = learn the codebook by gradient (codebook loss)
    epsilon: float = 1e-5  # ε of the Laplace smoothing of the counts
    dead_code_threshold: float = 2.0  # restart a code used fewer times per batch (in the EMA); 0 = never
    kmeans_init: bool = True  # codes from k-means on the first training batch
    kmeans_iterations: int = 10  # Lloyd iterations of that k-means

    def __post_init__(self) -> None:
        rules = [
            (self.dim >= 1, "dim >= 1", self.dim),
            (self.codebook_size >= 2, "codebook_size >= 2 (one code carries no information)", self.codebook_size),
            (self.commitment_weight >= 0, "commitment_weight >= 0", self.commitment_weight),
            (0 <= self.ema_decay < 1, "ema_decay in [0, 1) (0 = codebook learnt by gradient)", self.ema_decay),
            (self.epsilon > 0, "epsilon > 0", self.epsilon),
            (self.dead_code_threshold >= 0, "dead_code_threshold >= 0 (0 = no restarts)", self.dead_code_threshold),
            (isinstance(self.kmeans_init, bool), "kmeans_init True or False", self.kmeans_init),
            (self.kmeans_iterations >= 1, "kmeans_iterations >= 1", self.kmeans_iterations),
        ]  # fmt: skip
        for holds, rule, value in rules:
            if not holds:
                raise ValueError(f"QuantizerConfig: need {rule}, got {value!r}")


def nearest_codes(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """x (N, D), codebook (V, D) -> (N,) int64: the index of the code nearest to each row (squared L2).

    ||x - c||^2 expanded as ||x||^2 - 2 x.c + ||c||^2: one (N, D) x (D, V) product, never an (N, V, D)
    tensor. Ties go to the lowest index (argmin's first). Lesson 11, exercise 11.1.
    """
    if x.dim() != 2 or codebook.dim() != 2 or x.shape[1] != codebook.shape[1]:
        raise ValueError(f"nearest_codes: need x (N, D) and codebook (V, D) with one D, got x "
                         f"{tuple(x.shape)} and codebook {tuple(codebook.shape)}")  # fmt: skip
    distances = x.pow(2).sum(1, keepdim=True) - 2 * x @ codebook.T + codebook.pow(2).sum(1)  # (N, V)
    return distances.argmin(dim=1)  # (N,)


def straight_through(x: torch.Tensor, quantized: torch.Tensor) -> torch.Tensor:
    """The value of `quantized`, the gradient of `x` (d output / d x = I): x + (quantized - x).detach()."""
    return x + (quantized - x).detach()


def kmeans(vectors: torch.Tensor, n_clusters: int, iterations: int) -> tuple[torch.Tensor, torch.Tensor]:
    """vectors (N, D) -> centres (n_clusters, D), counts (n_clusters,): k-means++ then Lloyd.

    k-means++ (Arthur and Vassilvitskii, 2007) draws each next centre with probability proportional to the
    squared distance to the nearest centre so far, then each Lloyd iteration assigns every vector to its
    nearest centre and moves each centre to its vectors' mean (an empty cluster keeps its centre). Draws use
    torch's global generator: deterministic given torch.manual_seed. counts are the final cluster sizes.
    """
    if vectors.dim() != 2 or vectors.shape[0] == 0:
        raise ValueError(f"kmeans: need vectors (N, D) with N >= 1, got {tuple(vectors.shape)}")
    total = vectors.shape[0]
    chosen = [int(torch.randint(total, ()))]
    closest = (vectors - vectors[chosen[0]]).pow(2).sum(1)  # (N,) squared distance to the nearest centre
    for _ in range(1, n_clusters):
        if closest.sum() > 0:
            chosen.append(int(torch.multinomial(closest, 1)))
        else:  # fewer distinct vectors than clusters: any vector
            chosen.append(int(torch.randint(total, ())))
        closest = torch.minimum(closest, (vectors - vectors[chosen[-1]]).pow(2).sum(1))
    centres = vectors[chosen]  # (V, D)
    for _ in range(iterations):
        codes = nearest_codes(vectors, centres)  # (N,)
        counts = torch.bincount(codes, minlength=n_clusters).to(vectors.dtype)  # (V,)
        sums = torch.zeros_like(centres).index_add_(0, codes, vectors)  # (V, D)
        centres = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centres)
    counts = torch.bincount(nearest_codes(vectors, centres), minlength=n_clusters).to(vectors.dtype)
    return centres, counts


def _frame_mask(where: str, x: torch.Tensor, mask: torch.Tensor | None, dim: int) -> torch.Tensor:
    """Named errors unless x is (B, D, T) float and mask (B, 1, T) or None; the mask as 0/1 in x's dtype."""
    if x.dim() != 3 or x.shape[1] != dim:
        raise ValueError(f"{where}: x must be (B, D = {dim}, T), code size first, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{where}: x must hold floats, got dtype {x.dtype}")
    if mask is None:
        return x.new_ones(x.shape[0], 1, x.shape[2])  # (B, 1, T)
    return check_masked_input(where, x, mask, dim)


def _usage(counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """counts (V,) -> (perplexity exp(H(p)) in [1, V], the share of codes used at least once)."""
    probabilities = counts / counts.sum().clamp_min(1)  # (V,)
    entropy = -torch.special.xlogy(probabilities, probabilities).sum()  # 0 log 0 = 0
    return entropy.exp(), (counts > 0).to(counts.dtype).mean()


class QuantizerOutput(NamedTuple):
    quantized: torch.Tensor  # (B, D, T): code vectors (straight-through in training), 0 past the mask
    codes: torch.Tensor  # (B, T) int64, 0 past the mask
    commitment_loss: torch.Tensor  # () β mean ||x - sg(q)||^2 over the real frames
    codebook_loss: torch.Tensor  # () mean ||sg(x) - q||^2 when ema_decay = 0, else 0
    perplexity: torch.Tensor  # () exp(entropy) of this batch's code usage: 1 (one code) .. V (uniform)
    used_fraction: torch.Tensor  # () share of the V codes used at least once in this batch


class VectorQuantizer(nn.Module):
    """One codebook of V codes of size D.

    forward: x (B, D, T), mask (B, 1, T) or None -> QuantizerOutput; in training it also initializes
             (k-means), updates (EMA) and restarts (dead codes) the codebook.
    encode: x (B, D, T) -> codes (B, T);  decode: codes (B, T) -> (B, D, T) code vectors.
    State (all in state_dict): codebook (V, D) (a Parameter when ema_decay = 0), cluster_size n (V,),
    embedding_sum m (V, D) (EMA only), initialized (k-means done). Lesson 11.
    """

    codebook: torch.Tensor

    def __init__(self, config: QuantizerConfig) -> None:
        super().__init__()
        self.config = config
        codebook = torch.randn(config.codebook_size, config.dim)  # (V, D)
        if config.ema_decay > 0:
            self.register_buffer("codebook", codebook)
            self.register_buffer("embedding_sum", codebook.clone())  # m_k = n_k c_k
        else:
            self.codebook = nn.Parameter(codebook)
        self.register_buffer("cluster_size", torch.ones(config.codebook_size))  # n_k
        self.register_buffer("initialized", torch.tensor(not config.kmeans_init))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> QuantizerOutput:
        output = self.quantize(x, mask)
        if not self.training:
            return output
        keep = _frame_mask("VectorQuantizer", x, mask, self.config.dim)  # (B, 1, T)
        return output._replace(quantized=straight_through(x, output.quantized) * keep)

    def quantize(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> QuantizerOutput:
        """forward without the straight-through: quantized holds the code vectors (the residual quantizer
        sums these). Updates the codebook in training mode, as forward does."""
        config = self.config
        keep = _frame_mask("VectorQuantizer", x, mask, config.dim).flatten() > 0  # (B*T,)
        batch, dim, frames = x.shape
        vectors = x.transpose(1, 2).reshape(batch * frames, dim)  # (B*T, D)
        real = vectors[keep]  # (N, D) the real frames, with x's gradient
        codebook = self.codebook.detach()  # distances and statistics in the codebook's dtype (x may be bf16)
        if self.training and not self.initialized and real.shape[0] > 0:
            self._kmeans_init(real.detach().to(codebook.dtype))
        codes = nearest_codes(vectors.detach().to(codebook.dtype), codebook) * keep  # (B*T,), 0 past the mask
        quantized = F.embedding(codes, self.codebook) * keep[:, None]  # (B*T, D)
        real_codes, real_quantized = codes[keep], quantized[keep]  # (N,), (N, D)
        denominator = max(real.shape[0], 1) * dim
        commitment_loss = config.commitment_weight * (real - real_quantized.detach()).pow(2).sum() / denominator
        if config.ema_decay > 0:
            codebook_loss = commitment_loss.new_zeros(())
        else:
            codebook_loss = (real.detach() - real_quantized).pow(2).sum() / denominator
        counts = torch.bincount(real_codes, minlength=config.codebook_size).to(codebook.dtype)  # (V,)
        if self.training:
            self._update(real.detach().to(codebook.dtype), real_codes, counts)
        perplexity, used_fraction = _usage(counts)
        quantized = quantized.reshape(batch, frames, dim).transpose(1, 2)  # (B, D, T)
        return QuantizerOutput(quantized, codes.reshape(batch, frames), commitment_loss, codebook_loss,
                               perplexity, used_fraction)  # fmt: skip

    @torch.no_grad()
    def _kmeans_init(self, real: torch.Tensor) -> None:
        centres, counts = kmeans(real, self.config.codebook_size, self.config.kmeans_iterations)
        self.codebook.copy_(centres)
        self.cluster_size.copy_(counts)
        if self.config.ema_decay > 0:
            self.embedding_sum.copy_(centres * counts[:, None])
        self.initialized.fill_(True)

    @torch.no_grad()
    def _update(self, real: torch.Tensor, codes: torch.Tensor, counts: torch.Tensor) -> None:
        """One training batch: real (N, D), its codes (N,) and counts (V,) -> EMA step, then restarts."""
        config = self.config
        decay = config.ema_decay if config.ema_decay > 0 else USAGE_DECAY
        self.cluster_size.mul_(decay).add_(counts, alpha=1 - decay)
        if config.ema_decay > 0:
            sums = torch.zeros_like(self.embedding_sum).index_add_(0, codes, real)  # (V, D)
            self.embedding_sum.mul_(decay).add_(sums, alpha=1 - decay)
            total = self.cluster_size.sum()
            smoothed = (self.cluster_size + config.epsilon) * total / (total + config.codebook_size * config.epsilon)
            self.codebook.copy_(self.embedding_sum / smoothed[:, None])
        self._restart_dead_codes(real)

    @torch.no_grad()
    def _restart_dead_codes(self, real: torch.Tensor) -> None:
        """Put every code with n_k < threshold on a random real vector (distinct ones while there are enough)."""
        threshold = self.config.dead_code_threshold
        dead = self.cluster_size < threshold  # (V,)
        n_dead, n_real = int(dead.sum()), real.shape[0]
        if n_dead == 0 or n_real == 0:
            return
        if n_real >= n_dead:
            picks = torch.randperm(n_real, device=real.device)[:n_dead]
        else:
            picks = torch.randint(n_real, (n_dead,), device=real.device)
        vectors = real[picks]  # (n_dead, D)
        self.codebook[dead] = vectors
        self.cluster_size[dead] = threshold
        if self.config.ema_decay > 0:
            self.embedding_sum[dead] = vectors * threshold

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, D, T) -> codes (B, T) int64, the nearest codes; never changes the codebook."""
        _frame_mask("VectorQuantizer.encode", x, None, self.config.dim)
        batch, dim, frames = x.shape
        vectors = x.detach().transpose(1, 2).reshape(batch * frames, dim).to(self.codebook.dtype)  # (B*T, D)
        return nearest_codes(vectors, self.codebook.detach()).reshape(batch, frames)  # (B, T)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, T) int64 in [0, V) -> their code vectors (B, D, T)."""
        _check_codes("VectorQuantizer.decode", codes, 2, "(B, T)", self.config.codebook_size)
        return F.embedding(codes, self.codebook).transpose(1, 2)  # (B, D, T)


def _check_codes(where: str, codes: torch.Tensor, dims: int, shape: str, codebook_size: int) -> None:
    if codes.dim() != dims or codes.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{where}: codes must be {shape} integers, got shape {tuple(codes.shape)} of "
                         f"{codes.dtype}")  # fmt: skip
    if codes.numel() and (codes.min() < 0 or codes.max() >= codebook_size):
        raise ValueError(f"{where}: codes must lie in [0, {codebook_size}), got values in "
                         f"[{int(codes.min())}, {int(codes.max())}]")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class ResidualQuantizerConfig:
    quantizer: QuantizerConfig = dataclasses.field(default_factory=QuantizerConfig)  # every stage's
    n_quantizers: int = 8  # K stages: K log2(V) bits per frame at most
    quantizer_dropout: float = 0.0  # p: share of training batches that use only the first n ~ U{1..K}

    def __post_init__(self) -> None:
        if not isinstance(self.quantizer, QuantizerConfig):
            raise ValueError(f"ResidualQuantizerConfig: need quantizer a QuantizerConfig, got {self.quantizer!r}")
        if self.n_quantizers < 1:
            raise ValueError(f"ResidualQuantizerConfig: need n_quantizers >= 1, got {self.n_quantizers!r}")
        if not 0 <= self.quantizer_dropout <= 1:
            raise ValueError(f"ResidualQuantizerConfig: need quantizer_dropout in [0, 1], got "
                             f"{self.quantizer_dropout!r}")  # fmt: skip


class ResidualQuantizerOutput(NamedTuple):
    quantized: torch.Tensor  # (B, D, T): Σ of the stages' code vectors (straight-through in training)
    codes: torch.Tensor  # (B, Q, T) int64, Q stages used
    commitment_loss: torch.Tensor  # () summed over the stages
    codebook_loss: torch.Tensor  # () summed over the stages (0 with EMA codebooks)
    perplexities: torch.Tensor  # (Q,) each stage's code-usage perplexity in this batch
    used_fractions: torch.Tensor  # (Q,) each stage's share of codes used in this batch


class ResidualVectorQuantizer(nn.Module):
    """K VectorQuantizers, each quantizing the residual the ones before it left.

    forward: x (B, D, T), mask (B, 1, T) or None, n_quantizers None (all K, or quantizer dropout in
             training) or 1..K (the first n) -> ResidualQuantizerOutput.
    encode: x (B, D, T), n_quantizers -> codes (B, Q, T);  decode: codes (B, Q, T), Q <= K -> (B, D, T).
    Lesson 11, exercise 11.2 (the residual loop).
    """

    def __init__(self, config: ResidualQuantizerConfig) -> None:
        super().__init__()
        self.config = config
        self.quantizers = nn.ModuleList(VectorQuantizer(config.quantizer) for _ in range(config.n_quantizers))

    def _checked_n(self, where: str, n_quantizers: int | None) -> int:
        total = self.config.n_quantizers
        if n_quantizers is None:
            return total
        if isinstance(n_quantizers, bool) or not isinstance(n_quantizers, int) or not 1 <= n_quantizers <= total:
            raise ValueError(f"{where}: n_quantizers must be an int in [1, {total}] (or None for all), "
                             f"got {n_quantizers!r}")  # fmt: skip
        return n_quantizers

    def sample_n_quantizers(self) -> int:
        """Quantizer dropout: with probability p, n ~ U{1..K}, else K (torch's global generator)."""
        total, probability = self.config.n_quantizers, self.config.quantizer_dropout
        if probability > 0 and float(torch.rand(())) < probability:
            return int(torch.randint(1, total + 1, ()))
        return total

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                n_quantizers: int | None = None) -> ResidualQuantizerOutput:  # fmt: skip
        if n_quantizers is None and self.training:
            n_quantizers = self.sample_n_quantizers()  # an explicit n_quantizers is never dropped
        n_quantizers = self._checked_n("ResidualVectorQuantizer", n_quantizers)
        keep = _frame_mask("ResidualVectorQuantizer", x, mask, self.config.quantizer.dim)  # (B, 1, T)
        residual, total = x, torch.zeros_like(x)  # (B, D, T) each
        stages = []
        for quantizer in self.quantizers[:n_quantizers]:
            stage = quantizer.quantize(residual, mask)
            residual = residual - stage.quantized.detach()  # r_{i+1} = r_i - sg(q_i)
            total = total + stage.quantized
            stages.append(stage)
        quantized = straight_through(x, total) * keep if self.training else total
        return ResidualQuantizerOutput(
            quantized,
            torch.stack([stage.codes for stage in stages], dim=1),  # (B, Q, T)
            torch.stack([stage.commitment_loss for stage in stages]).sum(),
            torch.stack([stage.codebook_loss for stage in stages]).sum(),
            torch.stack([stage.perplexity for stage in stages]),  # (Q,)
            torch.stack([stage.used_fraction for stage in stages]),  # (Q,)
        )

    def encode(self, x: torch.Tensor, n_quantizers: int | None = None) -> torch.Tensor:
        """x (B, D, T) -> codes (B, n_quantizers, T) int64 (all K stages for None); changes no state."""
        n_quantizers = self._checked_n("ResidualVectorQuantizer.encode", n_quantizers)
        _frame_mask("ResidualVectorQuantizer.encode", x, None, self.config.quantizer.dim)
        residual, codes = x.detach(), []
        for quantizer in self.quantizers[:n_quantizers]:
            codes.append(quantizer.encode(residual))  # (B, T)
            residual = residual - quantizer.decode(codes[-1])
        return torch.stack(codes, dim=1)  # (B, Q, T)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, Q, T), 1 <= Q <= K -> the sum of the first Q stages' code vectors (B, D, T)."""
        config = self.config
        _check_codes("ResidualVectorQuantizer.decode", codes, 3, "(B, Q, T)", config.quantizer.codebook_size)
        self._checked_n("ResidualVectorQuantizer.decode (codes.shape[1])", codes.shape[1])
        batch, _, frames = codes.shape
        total = self.quantizers[0].codebook.new_zeros(batch, config.quantizer.dim, frames)  # (B, D, T)
        for stage, quantizer in enumerate(self.quantizers[: codes.shape[1]]):
            total = total + quantizer.decode(codes[:, stage])
        return total


def bitrate(n_quantizers: int, codebook_size: int, frame_rate: float) -> float:
    """Bits per second of the codes: n_quantizers * log2(codebook_size) * frame_rate.

    EnCodec at 24 kHz: 75 frames/s, 8 codebooks of 1024 codes -> 8 * 10 * 75 = 6000 bit/s. Lesson 11,
    exercise 11.4.
    """
    if n_quantizers < 1 or codebook_size < 2 or frame_rate <= 0:
        raise ValueError(f"bitrate: need n_quantizers >= 1, codebook_size >= 2 and frame_rate > 0, got "
                         f"{n_quantizers}, {codebook_size}, {frame_rate}")  # fmt: skip
    return n_quantizers * math.log2(codebook_size) * frame_rate
