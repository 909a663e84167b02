"""``Runs.to_polars()`` and ``HParamsTable.to_polars()`` (``tbwrite[polars]``). polars is
about 180 MB the ``test`` extra leaves out: ``tests/package/test_extras.py`` runs this file
in a fresh venv holding ``tbwrite[polars]`` (and neither pandas nor pyarrow: the extra is
all that ``to_polars`` needs)."""

from __future__ import annotations

import polars as pl

import tbwrite


def test_to_polars(tmp_path) -> None:
    with tbwrite.SummaryWriter(tmp_path / "r") as w:
        w.add_hparams({"lr": 0.1, "opt": "sgd"})
        w.add_scalar("a", 1.5, 3)
        w.add_scalar("a", 2.5, 4)
    df = tbwrite.read_scalars(tmp_path).to_polars()
    assert isinstance(df, pl.DataFrame)
    assert df.columns == ["run", "tag", "step", "wall_time", "value"]
    assert df.select(["run", "tag", "step", "value"]).rows() == [
        ("r", "a", 3, 1.5),
        ("r", "a", 4, 2.5),
    ]
    table = tbwrite.read_hparams(tmp_path).to_polars()
    assert table["lr"].to_list() == [0.1] and table["opt"].to_list() == ["sgd"]
    assert table["a"].to_list() == [2.5]
