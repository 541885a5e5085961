"""The toolkit's input errors: every bad dataset, file or setting raises a :class:`DataError` whose message
names the file or key at fault; the apps turn it into one line and exit status 2 (:mod:`autolabel.cli`)."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad dataset input; the message names the file or key at fault."""


class LabelError(DataError):
    """A bad label line; the message reads ``'<path>:<line>: <reason>'``.

    ``path`` is the label file, ``line`` the 1-based line number, ``reason`` the bare explanation.
    """

    def __init__(self, path: Path | str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = Path(path)
        self.line = line
        self.reason = reason

    def __reduce__(self) -> tuple:
        # Keeps the exception picklable across worker processes despite the custom signature.
        return (type(self), (self.path, self.line, self.reason))
