"""Exception types of emoclip-clinic.

Every error a user can cause (a bad file, a bad argument, a mismatched model) is raised as a
subclass of :class:`EmoClipError` with a message that names the file or value and the problem.
The command-line interface prints that message on one line and exits with a non-zero code;
library users can catch the base class.
"""

from __future__ import annotations


class EmoClipError(Exception):
    """Base class of every error that emoclip-clinic raises on purpose."""

    exit_code: int = 1


class ConfigError(EmoClipError):
    """A model config, protocol file or command option is missing or invalid."""

    exit_code = 2


class CheckpointError(EmoClipError):
    """A weight file or checkpoint is missing, truncated, tampered with or does not fit."""


class DataError(EmoClipError):
    """An input file (video, annotation, labels CSV) cannot be read or is invalid."""
