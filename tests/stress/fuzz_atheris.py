"""Coverage-guided fuzzing of the decoder and the reader with atheris.

Usage: pip install atheris && python tests/stress/fuzz_atheris.py [-atheris_runs=N] [CORPUS_DIR]

The rule, as h11 states it: any bytes are read as records or raise tbwrite's own
CorruptRecordError, never anything else, and never take memory beyond their size. The
input is fed whole and byte by byte to RecordDecoder, and written as a file read by every
loader.
"""

from __future__ import annotations

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    import tbwrite
    import tbwrite._format.tfrecord
    import tbwrite._reading.loaders
    import tbwrite._reading.records
    from tbwrite import NEED_DATA, CorruptRecordError, RecordDecoder, frame

_DIR = tempfile.mkdtemp(prefix="tbwrite-fuzz-")
_PATH = os.path.join(_DIR, "events.out.tfevents.0.fuzz")


def _drain(dec: RecordDecoder) -> list[bytes]:
    out = []
    while True:
        try:
            rec = dec.next_record()
        except CorruptRecordError:
            dec.skip_byte()
            continue
        if rec is NEED_DATA:
            return out
        assert isinstance(rec, bytes)
        out.append(rec)


def test_one_input(data: bytes) -> None:
    if data[:1] == b"F":
        # Past the checksums: the rest, split at b"|", framed as valid records, so the
        # fuzzer reaches the event parsers instead of stopping at a CRC.
        data = b"".join(frame(p) for p in data[1:].split(b"|"))
    whole = RecordDecoder()
    whole.receive_data(data)
    a = _drain(whole)
    bytewise = RecordDecoder()
    b = []
    for i in range(len(data)):
        bytewise.receive_data(data[i : i + 1])
        b.extend(_drain(bytewise))
    assert a == b, "whole and byte-by-byte feeds disagree"
    assert bytewise.pending <= len(data)
    with open(_PATH, "wb") as f:
        f.write(data)
    for load in (
        tbwrite.read_scalars,
        tbwrite.read_histograms,
        tbwrite.read_text,
        tbwrite.read_hparams,
    ):
        try:
            load(_DIR)
        except CorruptRecordError:
            pass


def main() -> None:
    if not any(not a.startswith("-") for a in sys.argv[1:]):
        # No corpus given: seed one with real scalar, histogram, text and hparams events.
        corpus = tempfile.mkdtemp(prefix="tbwrite-corpus-")
        with tbwrite.SummaryWriter(os.path.join(corpus, "run")) as w:
            w.add_hparams({"lr": 0.1, "flag": True}, {"loss": 0.5})
            w.add_scalar("loss", 0.25, 3)
            w.add_histogram("h", [1.0, 2.0, 2.5], 3)
            w.add_text("t", "hi", 3)
        records = []
        for name in os.listdir(os.path.join(corpus, "run")):
            with open(os.path.join(corpus, "run", name), "rb") as f:
                dec = RecordDecoder()
                dec.receive_data(f.read())
                records = _drain(dec)
        for i, rec in enumerate(records):
            with open(os.path.join(corpus, f"seed{i}"), "wb") as f:
                f.write(b"F" + rec)
        sys.argv.append(corpus)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
