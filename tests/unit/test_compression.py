"""The workers' decompression of task messages: bounded, so a compressed bomb is refused before it
is inflated, while what relops and plain Celery send compressed still reads as before."""

from __future__ import annotations

import bz2
import lzma
import tracemalloc
import zlib

import pytest
from kombu import compression as kombu_compression

from relops import compression
from relops.errors import MessageRefused

LIMIT = 64 * 1024
BOMB = zlib.compress(b"\0" * (64 * 1024 * 1024), 9)  # 64 MiB of zeros in about 64 KiB


@pytest.fixture
def installed(monkeypatch):
    """compression.install() in this process, undone afterwards (kombu's registry is global)."""
    registry = (kombu_compression._encoders, kombu_compression._decoders, kombu_compression._aliases)
    before = [dict(table) for table in registry]
    refused: list[tuple[str, int]] = []
    monkeypatch.setattr(
        compression, "_refused", lambda content_type, size, reason: refused.append((content_type, size))
    )
    compression.install(lambda field: None)
    yield refused
    for table, kept in zip(registry, before, strict=True):
        table.clear()
        table.update(kept)


@pytest.mark.parametrize(("module", "streams"), [(zlib, False), (bz2, True), (lzma, True)], ids=["zlib", "bz2", "lzma"])
def test_data_within_the_limit_inflates_as_the_one_shot_functions_do(module, streams):
    new = {zlib: zlib.decompressobj, bz2: bz2.BZ2Decompressor, lzma: lzma.LZMADecompressor}[module]
    data = b"relops " * 1000
    packed = module.compress(data)
    assert compression.inflate(packed, new, len(data), streams=streams) == module.decompress(packed) == data
    if streams:  # concatenated streams, as bz2.decompress and lzma.decompress read them
        assert compression.inflate(packed + packed, new, 2 * len(data), streams=True) == data + data
    with pytest.raises(compression.TooLarge, match=f"inflates past {len(data) - 1} bytes"):
        compression.inflate(packed, new, len(data) - 1, streams=streams)
    with pytest.raises(EOFError):
        compression.inflate(packed[: len(packed) // 2], new, len(data), streams=streams)


def test_a_bomb_is_refused_having_produced_no_more_than_the_limit():
    tracemalloc.start()
    try:
        with pytest.raises(compression.TooLarge):
            compression.inflate(BOMB, zlib.decompressobj, LIMIT, streams=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * LIMIT + 2 * len(BOMB), f"peak {peak} bytes: the bomb was inflated"


def test_installed_kombu_refuses_a_bomb_with_a_clear_error_and_counts_it(installed, monkeypatch):
    monkeypatch.setattr(compression, "MAX_INFLATED_BYTES", LIMIT)
    with pytest.raises(
        MessageRefused, match="compressed with application/x-gzip inflates past 65536 bytes: refused unread"
    ):
        kombu_compression.decompress(BOMB, "application/x-gzip")
    assert installed == [("application/x-gzip", len(BOMB))]


@pytest.mark.parametrize("alias", ["application/x-gzip", "zlib", "gzip", "bzip2", "xz"])
def test_installed_kombu_still_reads_what_it_compresses_by_every_name(installed, alias):
    body = b'[[], {"batches": []}, {}]' * 50
    packed, content_type = kombu_compression.compress(body, alias)
    assert kombu_compression.decompress(packed, content_type) == body
    assert installed == []


def test_a_compression_relops_cannot_bound_is_refused(installed):
    kombu_compression.register(lambda b: b, lambda b: b, "application/x-unbounded", aliases=["unbounded"])
    compression.install(lambda field: None)
    with pytest.raises(MessageRefused, match="relops reads only gzip, bz2 and lzma"):
        kombu_compression.decompress(b"anything", "application/x-unbounded")
    assert installed == [("application/x-unbounded", 8)]
