"""One hparams value policy and one flattener (clu's rules), shared by every front."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tbwrite
from tbwrite._summaries.hparam_values import checked_hparam_value, config_hparams
from tbwrite.integrations.clu import SummaryWriter as CluWriter
from tbwrite.integrations.clu import flatten_hparams as clu_flatten_hparams


class ConfigLike:
    """Not a Mapping, but has .items(): as ml_collections.ConfigDict."""

    def __init__(self, **values: object) -> None:
        self._values = values

    def items(self) -> Iterator[tuple[str, object]]:
        return iter(self._values.items())


def test_flatten_follows_clu() -> None:
    config = {"opt": {"lr": 0.1, "betas": (0.9, 0.99)}, "layers": [64, 32], "x": None}
    assert tbwrite.flatten_hparams(config) == {
        "opt.lr": 0.1,
        "opt.betas.0": 0.9,
        "opt.betas.1": 0.99,
        "layers.0": 64,
        "layers.1": 32,
        "x": "",
    }
    assert tbwrite.flatten_hparams(ConfigLike(model=ConfigLike(width=128))) == {"model.width": 128}
    assert clu_flatten_hparams(config) == tbwrite.flatten_hparams(config)
    # Ray's spelling: '/' between names; its results keep lists whole (histograms).
    assert tbwrite.flatten_hparams({"a": {"b": [1, 2]}}, sep="/") == {"a/b/0": 1, "a/b/1": 2}
    assert tbwrite.flatten_hparams({"a": {"b": [1, 2]}}, sep="/", lists=False) == {"a/b": [1, 2]}


def test_value_policies() -> None:
    assert checked_hparam_value("k", True) is True
    assert checked_hparam_value("k", 3) == 3.0
    assert checked_hparam_value("k", "adam") == "adam"
    with pytest.raises(TypeError, match="'k'"):
        checked_hparam_value("k", object())
    assert tbwrite.hparam_value(None) == "None"
    assert tbwrite.hparam_value([1, "a"]) == "[1, 'a']"
    assert tbwrite.hparam_value(ConfigLike) == "ConfigLike"
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


def test_parameters_of_any_type_become_hparam_values() -> None:
    # What the gradient-boosting, Optuna, Ray and scikit-learn integrations hand it.
    import numpy as np

    def my_objective(preds: object, data: object) -> object:
        return preds

    class Model:
        pass

    values = [True, np.bool_(False), 3, np.float32(0.5), np.int64(7), "gbdt", None,
              ["l2", "l1"], my_objective, Model, Model()]  # fmt: skip
    assert [tbwrite.hparam_value(v) for v in values] == [
        True, False, 3.0, 0.5, 7.0, "gbdt", "None", "['l2', 'l1']",
        "test_parameters_of_any_type_become_hparam_values.<locals>.my_objective",
        "test_parameters_of_any_type_become_hparam_values.<locals>.Model", "Model",
    ]  # fmt: skip
