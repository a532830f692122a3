"""One exception hierarchy for the whole harness, so callers catch exactly what they mean.

Every error a user can cause or fix carries a one-line message and the exit code the
command line ends with: 2 for bad input or usage, 3 for infrastructure (a target that
cannot be started or reached).
"""

from __future__ import annotations


class ShadowError(Exception):
    """Base of every error the harness reports to a user without a traceback."""

    exit_code = 1


class InputError(ShadowError):
    """Something the user gave us is wrong: a file, a field, an option."""

    exit_code = 2


class RecordingError(InputError):
    """A recording cannot be read; the message starts with `FILE:LINE:`."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}")

    def __reduce__(self) -> tuple[type[RecordingError], tuple[str, int | None, str]]:
        # Raised in a planning process and re-raised in the replay's.
        return (RecordingError, (self.path, self.line, self.problem))


class ScenarioError(InputError):
    """A scenario file is invalid; the message starts with `FILE: field.path:`."""


class LiveModeRefused(InputError):
    """A live-mode key was given without the double opt-in."""


class ShadowWarning(UserWarning):
    """A problem the harness worked around and the user should hear about, on one line."""


class InfrastructureError(ShadowError):
    """A target, a launcher, a proxy or an engine failed: not the user's input."""

    exit_code = 3
