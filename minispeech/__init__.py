"""minispeech: a from-scratch curriculum for speech models.

The package is import-light: `import minispeech` loads nothing heavy. Import the
module you need (`minispeech.dsp`, `minispeech.text`, `minispeech.data`, ...).
"""

__version__ = "0.1.0"
