"""Neural-network building blocks shared by several models.

features.py   LogMel: the torch twin of minispeech.dsp.log_mel (same MelConfig, same numbers)
"""
