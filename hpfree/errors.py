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
