"""Download and prepare real corpora into minispeech's JSONL manifest format (gpu profile).

cli            the one command line every corpus script shares (--root, --skip-download, ...)
fetch          resumable download with checksums, safe archive extraction
manifest_rows  audio file -> manifest row (header-only duration), skipped-file report
ljspeech       LJSpeech 1.1: one speaker, 22,050 Hz, train/valid/test manifests
librispeech    LibriSpeech: ASR, 16 kHz FLAC, one manifest per subset
libritts       LibriTTS: multi-speaker TTS, 24 kHz, one manifest per subset
asterisk       Asterisk core prompts: one real US-English voice, 8 kHz, train/test manifests

Each corpus script runs as `python data_scripts/<corpus>.py --root DIR [--skip-download]
[--manifest-dir DIR] [--subsets ...]` or `python -m data_scripts.<corpus> ...` from the repository
root; the options are defined once, in cli.py, and a wrong one is answered with an example.
Nothing in `minispeech` imports this package; the tests fabricate small archives in each
corpus's layout and never touch the network.
"""
