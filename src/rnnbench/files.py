"""Reading and writing rnnbench's files, with errors that name the file and what to do.

:func:`read_json` raises :class:`BadFile` (a ``ValueError``: the CLI exits 2) for an input it
cannot use. :func:`write_atomic` is the one writer: the content goes to a temporary file beside
the target, is flushed to disk and renamed over it, so a reader sees the old file or the new
one, never a torn one. :func:`check_output_file` and :func:`check_output_dir` refuse an output
path *before* the work that produces it starts. :func:`number`, :func:`integer` and
:func:`mapping` read one value of a parsed document that may hold anything.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class BadFile(ValueError):
    """An input or output file is unusable; the message names it and says what to do."""


def read_json(path: str | os.PathLike[str], role: str = "input file") -> Any:
    """The parsed JSON in ``path``; ``role`` names the file in errors (``"results file"``)."""
    path = Path(path)
    where = f"{role} {str(path)!r}"
    if not path.exists():
        raise BadFile(f"{where} does not exist: check the path")
    if path.is_dir():
        raise BadFile(f"{where} is a directory: expected a JSON file")
    if not path.is_file():  # a device or a FIFO could block or never end
        raise BadFile(f"{where} is not a regular file: expected a JSON file")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise BadFile(f"{where} cannot be read ({error.strerror or error}): check its "
                      "permissions") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadFile(f"{where} is not UTF-8 text ({error}): expected a JSON file") from None
    if not text.strip():
        raise BadFile(f"{where} is empty: expected JSON (was the run that writes it "
                      "interrupted?)")
    try:
        return json.loads(text, parse_constant=_finite, parse_float=_finite)
    except json.JSONDecodeError as error:
        raise BadFile(f"{where} is not valid JSON (line {error.lineno}, column {error.colno}: "
                      f"{error.msg})") from None
    except _NonFinite as error:
        raise BadFile(f"{where} holds the number {error}, which JSON does not allow: "
                      "regenerate the file with this version of rnnbench") from None
    except RecursionError:
        raise BadFile(f"{where} is nested too deeply to read: expected a results file, "
                      "not arbitrary JSON") from None
    except ValueError as error:  # e.g. an integer with more digits than Python converts
        raise BadFile(f"{where} is not usable JSON ({error})") from None


class _NonFinite(Exception):
    pass


def _finite(text: str) -> float:
    """A JSON number; NaN, Infinity (not JSON, most parsers refuse them) and 1e999 raise."""
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


def _default_mode(path: Path) -> int:
    """An existing file's mode, else what ``open()`` would give (mkstemp's are private)."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Replace ``path`` with ``data`` so that an interruption leaves the old file intact; a
    symbolic link keeps pointing where it did, and its target gets the data."""
    path = Path(os.path.realpath(path))
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, _default_mode(path))
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:  # KeyboardInterrupt too: never leave the temporary file behind
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike[str], document: Any, indent: int | None = 1) -> None:
    """``document`` as strict JSON (``NaN``/``Infinity`` raise ``ValueError``), atomically."""
    write_atomic(path, json.dumps(document, indent=indent, allow_nan=False) + "\n")


def check_output_file(option: str, path: str | os.PathLike[str]) -> Path:
    """Refuse now an output file that could not be written later; create its folder."""
    path = Path(path)
    if path.is_dir():
        raise BadFile(f"{option} {str(path)!r} is a directory: name a file to write")
    if path.exists() and not path.is_file():
        raise BadFile(f"{option} {str(path)!r} is not a regular file: name a file to write")
    folder = path.parent
    check_output_dir(option, folder, shown=f"{option} {str(path)!r}: its folder {str(folder)!r}")
    return path


def check_output_dir(option: str, path: str | os.PathLike[str], shown: str = "") -> Path:
    """Make sure the folder ``path`` exists (creating it) and is writable."""
    path = Path(path)
    shown = shown or f"{option} {str(path)!r}"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise BadFile(f"{shown} is a file, not a folder: choose another path") from None
    except NotADirectoryError:
        raise BadFile(f"{shown} lies under a file, not a folder: choose another path") from None
    except OSError as error:
        raise BadFile(f"{shown} cannot be created ({error.strerror or error}): choose another "
                      "path") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise BadFile(f"{shown} is not writable: fix its permissions or choose another path")
    return path


def number(value: object) -> bool:
    """A finite int or float (not a bool)."""
    try:
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value))
    except OverflowError:  # an integer too large for a float
        return False


def integer(value: object) -> int | None:
    """``value`` as an int where it is a :func:`number`, else None."""
    return int(value) if number(value) else None


def mapping(value: object) -> dict[str, Any]:
    """``value`` where it is an object (a copy), else an empty one."""
    return dict(value) if isinstance(value, Mapping) else {}
