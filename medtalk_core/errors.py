"""Error classes for user mistakes: caught once by the CLI and printed as one clear line."""


class MedtalkError(Exception):
    """A problem the user can fix (bad file, bad flag, missing dependency); never a bug."""


class AudioLoadError(MedtalkError):
    """An audio file could not be read or holds no samples."""


class ConfigError(MedtalkError, ValueError):
    """A configuration file or mapping does not fit its dataclass."""


class DatasetError(MedtalkError):
    """A dataset folder is missing or malformed."""


class MissingDependencyError(MedtalkError):
    """An optional system or Python package is not installed; the message says how to install it."""


class MissingModelError(MedtalkError):
    """Pretrained weights are not on this machine (and downloads are off); the message names the
    model, where it looked and the config key to change."""


class CheckpointError(MedtalkError):
    """A checkpoint is missing, malformed, or in a format we refuse to load (pickles)."""
