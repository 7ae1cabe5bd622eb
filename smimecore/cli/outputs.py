"""The command's output files, written all or nothing.

Each file (``--out``, ``--status-json``) is first written to a temporary
file in its own directory; only when every one of them has been written
are they renamed into place, so a command that fails part way (an
unwritable ``--status-json``, say) leaves no ``--out`` file behind, and a
reader never sees half a file.  Standard output is written after the
files, and only then.

A path that is not a regular file (``/dev/null``, a named pipe) is
written directly: it cannot be replaced by a rename, and must not be.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["OutputError", "Outputs"]


class OutputError(Exception):
    """An output file cannot be written (the command exits 2)."""


@dataclass
class Outputs:
    """Outputs collected while a command runs, written by :meth:`commit`."""

    _files: dict[str, bytes] = field(default_factory=dict)
    _stdout: list[bytes] = field(default_factory=list)
    _stderr: list[str] = field(default_factory=list)

    def add(self, path: str | None, data: bytes) -> None:
        """Write ``data`` to ``path`` on commit (``None`` or ``-``: standard output)."""
        if path is None or path == "-":
            self._stdout.append(data)
        else:
            self._files[path] = data

    def add_stderr(self, text: str) -> None:
        """Write ``text`` to standard error on commit, after everything else."""
        self._stderr.append(text)

    def commit(self) -> None:
        """Write every file (all or none of them), then standard output."""
        staged: list[tuple[Path, Path]] = []
        direct: list[tuple[str, bytes]] = []
        try:
            for name, data in self._files.items():
                target = Path(os.path.realpath(name))
                if _is_special(target):
                    direct.append((name, data))
                else:
                    staged.append((_stage(name, target, data), target))
        except OutputError:
            for temporary, _ in staged:
                _remove(temporary)
            raise
        for temporary, target in staged:
            try:
                os.replace(temporary, target)
            except OSError as exc:
                _remove(temporary)
                raise OutputError(f"cannot write {target}: {exc.strerror}") from None
        for name, data in direct:
            try:
                Path(name).write_bytes(data)
            except OSError as exc:
                raise OutputError(f"cannot write {name}: {exc.strerror}") from None
        _write_stdout(self._stdout)
        for text in self._stderr:
            sys.stderr.write(text)


def _write_stdout(pieces: list[bytes]) -> None:
    try:
        for data in pieces:
            sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        # The reader went away (``| head``): nothing more can reach it, and the
        # interpreter's own flush at exit must not complain a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise OutputError("cannot write to standard output: the reader has gone") from None
    except OSError as exc:
        raise OutputError(f"cannot write to standard output: {exc.strerror}") from None


def _is_special(target: Path) -> bool:
    """Whether ``target`` exists and is not a regular file (a device, a pipe, a socket)."""
    try:
        return not stat.S_ISREG(target.stat().st_mode)
    except OSError:
        return False


def _stage(name: str, target: Path, data: bytes) -> Path:
    """``data`` in a temporary file beside ``target``, with the mode the file would get."""
    try:
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        raise OutputError(f"cannot write {name}: {exc.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, _mode_for(target))
    except OSError as exc:
        _remove(Path(temporary))
        raise OutputError(f"cannot write {name}: {exc.strerror}") from None
    return Path(temporary)


def _mode_for(target: Path) -> int:
    """An existing file's permissions, else what ``open()`` would give under the umask."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
