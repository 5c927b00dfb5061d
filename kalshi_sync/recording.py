"""Record raw WebSocket frames to JSON Lines, and read them back for replay.

One line per received frame, nothing else (no headers, no keys, no signatures)::

    {"t_ns": 1767225600123456789, "frame": "{\\"type\\":\\"ticker\\",...}"}
    {"t_ns": 1767225600123999999, "b64": "gIE..."}          # a frame that is not UTF-8

``t_ns`` is ``time.time_ns()`` when the frame was received. Every line is flushed as it is
written, so a recording interrupted by Ctrl-C (or a crash) keeps every frame received
before it. ``KalshiClient(record=...)`` writes one; ``KalshiClient.replay()`` and
``kalshi-sync replay`` feed one back through the client's pipeline.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import IO, Any

import orjson

__all__ = ["Recorder", "RecordingError", "iter_recording"]

log = logging.getLogger("kalshi_sync")


class RecordingError(ValueError):
    """A recording line is not a valid frame record; the message names the line."""

    def __init__(self, message: str, *, line: int) -> None:
        super().__init__(message)
        self.line = line


class Recorder:
    """Append received frames to a JSONL file (a path, opened for writing and truncated,
    or an open text file, which is flushed but not closed by :meth:`close`).

    Thread safety: :meth:`write` and :meth:`close` may be called from any thread.
    """

    def __init__(self, target: str | os.PathLike[str] | IO[str]) -> None:
        self._file: IO[str]
        if isinstance(target, str | os.PathLike):
            # Owner-only permissions: fills and orders are account data.
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self._file = open(fd, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
            self._owned = True
            self.name = os.fspath(target)
        else:
            self._file = target
            self._owned = False
            self.name = str(getattr(target, "name", "<stream>"))
        self._lock = threading.Lock()  # guards _file, _closed and frames
        self._closed = False
        self.frames = 0
        """Frames written so far."""

    def write(self, data: bytes | str, received_ns: int) -> None:
        """Write one frame received at ``received_ns`` (epoch ns) and flush it."""
        record: dict[str, Any]
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            line = orjson.dumps({"t_ns": received_ns, "frame": text})
        except (UnicodeDecodeError, orjson.JSONEncodeError):
            # Not UTF-8 (a binary frame, or a str with lone surrogates): keep the bytes.
            raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
            record = {"t_ns": received_ns, "b64": base64.b64encode(raw).decode("ascii")}
            line = orjson.dumps(record)
        with self._lock:
            if self._closed:
                raise ValueError(f"recorder for {self.name} is closed")
            self._file.write(line.decode("utf-8") + "\n")
            self._file.flush()
            self.frames += 1

    def close(self) -> None:
        """Flush, and close the file if this recorder opened it. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._owned:
                self._file.close()
            else:
                self._file.flush()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def iter_recording(source: str | os.PathLike[str] | IO[str]) -> Iterator[tuple[int, bytes]]:
    """Yield ``(t_ns, frame bytes)`` for each line of a recording, in file order.

    Blank lines are skipped, and so is an unparseable *last* line without a newline (the
    trace of a process killed mid-write), with a warning. Any other bad line raises
    :class:`RecordingError` (a ValueError) naming the file and line number.
    """
    if isinstance(source, str | os.PathLike):
        with open(source, encoding="utf-8", newline="\n") as f:
            yield from _iter_lines(f, os.fspath(source))
    else:
        yield from _iter_lines(source, str(getattr(source, "name", "<stream>")))


def _iter_lines(f: IO[str], name: str) -> Iterator[tuple[int, bytes]]:
    for lineno, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            yield _parse(line)
        except ValueError as exc:
            if not line.endswith("\n"):  # only the last line of a file can lack one
                log.warning("%s:%d: ignoring a truncated last line (%s)", name, lineno, exc)
                return
            raise RecordingError(f"{name}:{lineno}: {exc}", line=lineno) from None


def _parse(line: str) -> tuple[int, bytes]:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not a JSON line ({exc})") from None
    if not isinstance(obj, dict):
        raise ValueError("not a frame record (expected a JSON object)")
    t_ns = obj.get("t_ns")
    if not isinstance(t_ns, int) or isinstance(t_ns, bool):
        raise ValueError("missing or non-integer 't_ns'")
    frame = obj.get("frame")
    if isinstance(frame, str):
        return t_ns, frame.encode("utf-8", "surrogatepass")
    b64 = obj.get("b64")
    if isinstance(b64, str):
        try:
            return t_ns, base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("'b64' is not valid base64") from None
    raise ValueError("a frame record needs a string 'frame' or 'b64'")
