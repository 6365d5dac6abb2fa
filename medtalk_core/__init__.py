"""MEDTalk core: rig spec, audio, datasets, model, training and evaluation.

Importable without an audio device or a socket; nothing here runs at import time.
"""

__version__ = "0.1.0"
