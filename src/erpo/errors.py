"""The user-facing error type: every message names the file, line and field at fault."""

from __future__ import annotations

from pathlib import Path


class ErpoError(Exception):
    """An error the CLI prints without a traceback, because the user can fix it."""


class InputError(ErpoError):
    """Bad user input, located precisely: `file:line: field: problem`."""

    def __init__(self, problem: str, *, file: str | Path | None = None,
                 line: int | None = None, field: str | None = None):
        self.problem, self.file, self.line, self.field = problem, file, line, field
        where = ""
        if file is not None:
            where = str(file) + (f":{line}" if line is not None else "") + ": "
        what = f"{field}: " if field else ""
        super().__init__(f"{where}{what}{problem}")
