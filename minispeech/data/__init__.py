"""Corpora, manifests and torch datasets.

tiny_corpus, build_tiny_corpus, default_data_root, CorpusConfig, SPEAKERS   (corpus.py)
prepared_manifest                                    a real corpus's data_scripts/ manifest (corpus.py)
folder_manifest, read_manifest, write_manifest                             (manifest.py)
SpeechDataset, collate, LengthBucketSampler, WaveformSegments              (dataset.py, imports torch)
tts_corpus, build_tts_corpus, load_tts_split, mel_statistics, phoneme_averages, TTSCorpusConfig (tts.py)
encode_text   text -> TTS phoneme tokens                                   (tts_tokens.py)
TTSDataset, tts_collate                                                    (tts_dataset.py, imports torch)
voice_pool, build_voice_pool, VoicePoolConfig                              (voices.py)
rates_corpus, build_rates_corpus, RatesCorpusConfig   other rates/pitches  (rates.py)
generate_sentences, DIGIT_WORDS                                            (sentences.py)

Build the offline corpora with `python -m minispeech.data tiny`, `... tts`,
`... voices` and `... rates`.
Taught in lessons/00_setup_data_text.ipynb.
"""

from minispeech.data.corpus import (
    SPEAKERS,
    CorpusConfig,
    build_tiny_corpus,
    default_data_root,
    prepared_manifest,
    tiny_corpus,
)
from minispeech.data.manifest import folder_manifest, read_manifest, write_manifest
from minispeech.data.rates import RatesCorpusConfig, build_rates_corpus, rates_corpus
from minispeech.data.tts import (TTSCorpusConfig, build_tts_corpus, load_tts_split, mel_statistics,
                                 phoneme_averages, tts_corpus)
from minispeech.data.tts_tokens import encode_text
from minispeech.data.voices import VoicePoolConfig, build_voice_pool, voice_pool

_TORCH_NAMES = ("SpeechDataset", "collate", "LengthBucketSampler", "pad_sequences", "WaveformSegments")
_TTS_TORCH_NAMES = ("TTSDataset", "tts_collate")


def __getattr__(name: str):
    # The datasets import torch; load them only when asked for.
    if name in _TORCH_NAMES:
        from minispeech.data import dataset

        return getattr(dataset, name)
    if name in _TTS_TORCH_NAMES:
        from minispeech.data import tts_dataset

        return getattr(tts_dataset, name)
    raise AttributeError(f"module 'minispeech.data' has no attribute {name!r}")


__all__ = [
    "SPEAKERS",
    "CorpusConfig",
    "build_tiny_corpus",
    "default_data_root",
    "prepared_manifest",
    "tiny_corpus",
    "folder_manifest",
    "read_manifest",
    "write_manifest",
    "TTSCorpusConfig",
    "build_tts_corpus",
    "encode_text",
    "load_tts_split",
    "mel_statistics",
    "phoneme_averages",
    "tts_corpus",
    "VoicePoolConfig",
    "build_voice_pool",
    "voice_pool",
    "RatesCorpusConfig",
    "build_rates_corpus",
    "rates_corpus",
    *_TORCH_NAMES,
    *_TTS_TORCH_NAMES,
]
