"""The error every hpfree command turns into one line for the user (the ground floor).

Nothing here imports anything of hpfree's, so every module can raise :class:`ConfigError`
without creating an import cycle (configs, registries and plug-ins all do).
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value is invalid; the message is one line meant for the user."""


def check(condition: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message)


class CorruptFile(Exception):
    """A file hpfree wrote (a record, a curve, a checkpoint) cannot be read back.

    Readers name it in one line and go on: the run it belongs to counts as ``corrupt``, is
    re-run by ``hpfree-resubmit`` (the bad file kept aside, renamed) and left out of scores.
    """

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class OutputError(OSError):
    """An output could not be written (read-only location, full disk, ...): one line naming
    the path and the cause."""

    def __init__(self, path: object, cause: OSError) -> None:
        reason = cause.strerror or str(cause) or type(cause).__name__
        super().__init__(cause.errno, f"cannot write {path}: {reason}")
        self.path = path
        self.cause = cause

    def __str__(self) -> str:
        return self.strerror or ""
