"""The workers' decompression of task messages, bounded.

kombu inflates a message whose headers name a ``compression`` in the worker's main process, before
any task or check of relops sees it, with zlib's (bz2's, lzma's) one-shot decompress: a few hundred
kilobytes of zeros become gigabytes, and the worker dies with every message it had prefetched, which
come back to the next one. Installed in every relops Celery process, the decompressors stop at
MAX_INFLATED_BYTES: the message is refused (Celery logs "can't decode message body" and acks it, so it
never comes back), logged and counted, and the worker goes on with the next message.
"""

from __future__ import annotations

import bz2
import logging
import lzma
import zlib
from collections.abc import Callable
from functools import partial
from typing import Final, Protocol

from kombu import compression
from relops_client.logs import log_event

from relops.errors import MessageRefused

#: A task message inflates to at most this much. The largest relops sends is far smaller (an intake
#: message of 20,000 outcome items or 1,000 cron events with long errors: a few MiB); the bound keeps
#: one message's memory small enough that a worker's prefetched messages together cannot exhaust it.
MAX_INFLATED_BYTES: Final = 64 * 1024 * 1024
#: The task_faults field counting refused messages (relops status lists it).
FAULT_FIELD: Final = "rejected:oversized-message"
logger = logging.getLogger(__name__)


class TooLarge(ValueError):
    """The data inflates past the bound given."""


class _Decompressor(Protocol):
    eof: bool
    unused_data: bytes

    def decompress(self, data: bytes, max_length: int = ..., /) -> bytes: ...


#: content type -> (a new decompressor, whether streams may follow one another as bz2's and lzma's
#: one-shot functions accept). zlib's ignores what follows its stream, and so does this.
_BOUNDED: Final[dict[str, tuple[Callable[[], _Decompressor], bool]]] = {
    "application/x-gzip": (zlib.decompressobj, False),
    "application/x-bz2": (bz2.BZ2Decompressor, True),
    "application/x-lzma": (lzma.LZMADecompressor, True),
}


def inflate(data: bytes, new_decompressor: Callable[[], _Decompressor], limit: int, *, streams: bool) -> bytes:
    """``data`` decompressed, or TooLarge as soon as the output would pass ``limit`` bytes: no more than
    ``limit + 1`` bytes are ever produced. A stream cut short raises EOFError, as the one-shot
    functions do."""
    out = bytearray()
    while True:
        decompressor = new_decompressor()
        out += decompressor.decompress(data, limit + 1 - len(out))
        if len(out) > limit:
            raise TooLarge(f"inflates past {limit} bytes")
        if not decompressor.eof:
            raise EOFError("the compressed data ends before its end-of-stream marker")
        data = decompressor.unused_data
        if not (streams and data):
            return bytes(out)


def _decode(content_type: str, body: bytes) -> bytes:
    new_decompressor, streams = _BOUNDED[content_type]
    try:
        return inflate(body, new_decompressor, MAX_INFLATED_BYTES, streams=streams)
    except TooLarge as exc:
        _refused(content_type, len(body), f"{exc}, the bound of a task message")
        raise MessageRefused(f"task message compressed with {content_type} {exc}: refused unread") from None


def _unbounded(content_type: str, body: bytes) -> bytes:
    """A compression kombu knows (brotli, zstd: installed by something else) whose inflation relops
    does not bound: refused rather than inflated blind."""
    _refused(content_type, len(body), "compression whose inflation relops does not bound")
    raise MessageRefused(f"task message compressed with {content_type}: relops reads only gzip, bz2 and lzma")


def _refused(content_type: str, size: int, reason: str) -> None:
    log_event(logger, logging.ERROR, "message.rejected", reason=reason, compression=content_type, size=size)
    _count_fault(FAULT_FIELD)  # after the log line: it says so whatever the count's fate


def _not_counted(field: str) -> None:
    """Before install(): nothing to count with (the log line still says it happened)."""


#: Counts a refused message under a field of the task-fault tally (set by install).
_count_fault: Callable[[str], None] = _not_counted


def install(count_fault: Callable[[str], None]) -> None:
    """Every decompressor kombu has registered in this process, replaced by a bounded one (or a
    refusal); the compressors and the aliases (gzip, zlib, bzip2, xz, ...) stay kombu's own."""
    global _count_fault
    _count_fault = count_fault
    for content_type in compression.encoders():
        encoder, _ = compression.get_encoder(content_type)
        if content_type in _BOUNDED:
            compression.register(encoder, partial(_decode, content_type), content_type)
        else:
            compression.register(encoder, partial(_unbounded, content_type), content_type)
