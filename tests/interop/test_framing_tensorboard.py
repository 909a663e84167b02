"""Framing against TensorBoard's own record writer and reader."""

from __future__ import annotations

from tbwrite import frame

CRC_RECORD = bytes.fromhex("13000000000000000c91321b1a1143524320746573742c206f6e652074776f8ad09457")


def test_frame_matches_tensorboard_record_writer(tmp_path) -> None:
    from tensorboard.summary.writer.record_writer import RecordWriter

    path = tmp_path / "r"
    payloads = [b"", b"a", b"hello" * 100]
    with open(path, "wb") as f:
        rw = RecordWriter(f)
        for p in payloads:
            rw.write(p)
    assert path.read_bytes() == b"".join(frame(p) for p in payloads)


def test_decoder_reads_tensorboard_reader_output(tmp_path) -> None:
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New

    payloads = [b"one", b"", b"three" * 1000]
    path = tmp_path / "r"
    path.write_bytes(b"".join(frame(p) for p in payloads))
    reader = PyRecordReader_New(str(path))
    got = []
    while True:
        try:
            reader.GetNext()
        except Exception:
            break
        got.append(reader.record())
    assert got == payloads
