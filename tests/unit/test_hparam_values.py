"""One hparams value policy and one flattener (clu's rules), shared by every front."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tbwrite
from tbwrite._summaries.hparam_values import (
    config_hparams,
    flatten,
    hparam_value,
    hparam_value_or_text,
)
from tbwrite.integrations.clu import SummaryWriter as CluWriter
from tbwrite.integrations.clu import flatten_hparams


class ConfigLike:
    """Not a Mapping, but has .items(): as ml_collections.ConfigDict."""

    def __init__(self, **values: object) -> None:
        self._values = values

    def items(self) -> Iterator[tuple[str, object]]:
        return iter(self._values.items())


def test_flatten_follows_clu() -> None:
    config = {"opt": {"lr": 0.1, "betas": (0.9, 0.99)}, "layers": [64, 32], "x": None}
    assert flatten(config) == {
        "opt.lr": 0.1,
        "opt.betas.0": 0.9,
        "opt.betas.1": 0.99,
        "layers.0": 64,
        "layers.1": 32,
        "x": "",
    }
    assert flatten(ConfigLike(model=ConfigLike(width=128))) == {"model.width": 128}
    assert flatten_hparams(config) == flatten(config)
    # Ray's spelling: '/' between names; its results keep lists whole (histograms).
    assert flatten({"a": {"b": [1, 2]}}, sep="/") == {"a/b/0": 1, "a/b/1": 2}
    assert flatten({"a": {"b": [1, 2]}}, sep="/", lists=False) == {"a/b": [1, 2]}


def test_value_policies() -> None:
    assert hparam_value("k", True) is True
    assert hparam_value("k", 3) == 3.0
    assert hparam_value("k", "adam") == "adam"
    with pytest.raises(TypeError, match="'k'"):
        hparam_value("k", object())
    assert hparam_value_or_text(None) == "None"
    assert hparam_value_or_text([1, "a"]) == "[1, 'a']"
    assert hparam_value_or_text(ConfigLike) == "ConfigLike"
    with pytest.raises(TypeError, match="hparams must be a mapping"):
        config_hparams(3)


@pytest.mark.parametrize("front", ["torch", "clu"])
def test_both_fronts_write_the_same_session(tmp_path, front: str) -> None:
    config = ConfigLike(layers=[64, 32], opt={"name": "adam", "lr": 1e-3}, pretrained=True)
    if front == "torch":
        with tbwrite.SummaryWriter(tmp_path) as w:
            w.write_hparams(config)  # type: ignore[arg-type]
    else:
        with CluWriter(tmp_path) as cw:
            cw.write_hparams(config)  # type: ignore[arg-type]
    (row,) = tbwrite.read_hparams(tmp_path)
    assert row.hparams == {
        "layers.0": 64.0,
        "layers.1": 32.0,
        "opt.lr": 1e-3,
        "opt.name": "adam",
        "pretrained": True,
    }
    assert row.status == "SUCCESS"
