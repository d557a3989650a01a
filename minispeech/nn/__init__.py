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

Models (minispeech/models/) import these and never each other. Conventions: attention and
sequence tensors are (B, T, C), convolution stacks (B, C, T); masks are boolean keep-masks.
"""
