"""Neural-network building blocks shared by several models.

features.py   LogMel: the torch twin of minispeech.dsp.log_mel (same MelConfig, same numbers)
attention.py  dot-product, additive (Bahdanau), location-sensitive (Tacotron 2) attention, guided loss
transformer.py  scaled dot-product + multi-head attention (KV cache), masks, sinusoidal and RoPE
              positions, pre-LN encoder/decoder layers, Conv2d subsampling, Conformer block
"""
