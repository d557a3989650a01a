"""Corpora, manifests and torch datasets.

tiny_corpus, build_tiny_corpus, default_data_root, CorpusConfig, SPEAKERS   (corpus.py)
prepared_manifest                                    a real corpus's data_scripts/ manifest (corpus.py)
folder_manifest, read_manifest, write_manifest                             (manifest.py)
SpeechDataset, collate, LengthBucketSampler                                (dataset.py, imports torch)
generate_sentences, DIGIT_WORDS                                            (sentences.py)

Build the offline corpus with `python -m minispeech.data tiny`.
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

_TORCH_NAMES = ("SpeechDataset", "collate", "LengthBucketSampler", "pad_sequences")


def __getattr__(name: str):
    # The datasets import torch; load them only when asked for.
    if name in _TORCH_NAMES:
        from minispeech.data import dataset

        return getattr(dataset, name)
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
    *_TORCH_NAMES,
]
