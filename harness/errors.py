"""One exception hierarchy for the whole harness, so callers catch exactly what they mean.

Every error a user can cause or fix carries a one-line message and the exit code the
command line ends with (the CLI catches ShadowError at its edge and prints the message):

    ShadowError                        exit 1: the base, never raised itself
    ├── InputError                     exit 2: a file, a field or an option is wrong
    │   ├── RecordingError             a recording cannot be read (FILE:LINE: what)
    │   ├── ScenarioError              a scenario is invalid (FILE: field.path: what (line N))
    │   ├── LiveModeRefused            a live-mode key without the double opt-in
    │   └── NotRegistered              no transform, launcher, importer… of that name
    │                                  (also a ValueError, so a model's validator raises it)
    └── InfrastructureError            exit 3: a target, launcher, proxy or engine failed

    ScenarioProblem(ValueError)        a mistake at a place in a scenario (`loc`), raised by
                                       a section's check and turned into a ScenarioError
                                       line with its line number
    ShadowWarning(UserWarning)         something worked around, said on one line

Each dependency's own exceptions are mapped into this tree once, where the dependency is
used: aiohttp's in the replay engine (an answer that did not come is an outcome, not an
exception), Docker's in harness.replay.launch.docker, YAML's in
harness.formats.untrusted (`yaml_problem`).
"""

from __future__ import annotations

from typing import Any


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


class NotRegistered(InputError, ValueError):
    """No entry of that name in a registry (harness.registry); the message lists the
    names there are and the closest one."""


class InfrastructureError(ShadowError):
    """A target, a launcher, a proxy or an engine failed: not the user's input."""

    exit_code = 3


class ScenarioProblem(ValueError):
    """A mistake at one place in a scenario: `loc` is the path to it from where the check
    that raised it looked (`(1, "name")` under `transforms` is `transforms[1].name`)."""

    def __init__(self, loc: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class ShadowWarning(UserWarning):
    """A problem the harness worked around and the user should hear about, on one line."""
