"""Neural-network building blocks shared by several models; each block lives here once.

features.py      LogMel: the torch twin of minispeech.dsp.log_mel (same MelConfig, same numbers)
attention.py     masks and the one masked softmax; dot-product, additive (Bahdanau) and
                 location-sensitive (Tacotron 2) attention; guided-attention loss
transformer.py   multi-head attention (KV cache, fused path), sinusoidal and rotary positions, FFN (or conv FFN),
                 pre-LN encoder/decoder layers
encoder.py       speech encoders: strided Conv1d and Conv2d subsampling, the Conformer block,
                 EncoderConfig + SpeechEncoder (every recognizer's encoder)
asr_frontend.py  the recognizers' input pipeline: per-utterance normalization, VTLP, SpecAugment
recurrent.py     packed_lstm: an LSTM over the real frames of a padded batch
postnet.py       PostnetConfig + Postnet: Tacotron 2's convolutional mel refiner (also FastSpeech 2's option)
mel_normalization.py  MelNormalization: per-band log-mel statistics kept inside a TTS model
tokens.py        check_token_batch: named errors for a padded batch of token ids
generator.py     HiFi-GAN's generator: transposed-conv upsampling, multi-receptive-field fusion (ResBlock1/2),
                 remove_weight_norm (lesson 09; VITS and the codec reuse it)
discriminators.py  multi-period (period_reshape) and multi-scale discriminators (lesson 09)
gan_losses.py    LSGAN discriminator and generator losses, feature matching, multi-resolution STFT loss
wavenet.py       WaveNetConfig + WaveNet: the non-causal gated dilated-conv stack ("WN") of Glow-TTS and VITS,
                 masked at every layer, optional global conditioning g (lesson 10)
flows.py         FlowConfig, ResidualCouplingLayer (mean-only or affine), Flip, ResidualCouplingBlock:
                 VITS' normalizing flow, forward with log-determinant and exact reverse (lesson 10)
quantize.py      QuantizerConfig + VectorQuantizer (nearest code, straight-through, EMA codebook, k-means init,
                 dead-code restart), ResidualVectorQuantizer with quantizer dropout, bitrate (lesson 11 codec)

Models (minispeech/models/) import these and never each other. Conventions: attention and
sequence tensors are (B, T, C), convolution stacks (B, C, T); masks are boolean keep-masks.
"""
