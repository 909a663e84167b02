"""Tensors without torch: a stand-in with torch.Tensor's conversion surface goes through the
checks, the hparams policy and the writer as PyTorch's writer takes a tensor (detached,
on the CPU, halves widened), read back with tbwrite's own reader. No torch, no tensorboard.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tbwrite
from tbwrite._checks import as_float, as_real_array, check_series
from tbwrite._summaries import torch_rules
from tbwrite._summaries.hparam_values import checked_hparam_value, hparam_value
from tbwrite._tensorlike import is_tensorlike, to_numpy


class Tensor:
    """The calls torch's writer makes on a tensor; numpy() refuses what torch refuses."""

    def __init__(self, data, dtype: str | None = None, requires_grad: bool = False) -> None:
        self.data = np.asarray(data)
        self.dtype = f"torch.{dtype or self.data.dtype.name}"
        self.requires_grad = requires_grad
        self.calls: list[str] = []

    def detach(self) -> Tensor:
        self.calls.append("detach")
        return Tensor(self.data, self.dtype.split(".")[1])

    def cpu(self) -> Tensor:
        return self

    def float(self) -> Tensor:
        return Tensor(self.data.astype(np.float32))

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad.")
        if self.dtype == "torch.bfloat16":
            raise TypeError("Got unsupported ScalarType BFloat16")
        return self.data

    def __float__(self) -> float:
        if self.requires_grad:
            warnings.warn("Converting a tensor that requires grad", UserWarning, stacklevel=2)
        return float(self.data.reshape(()))


def test_to_numpy_detaches_and_widens_halves() -> None:
    grad = Tensor([1.5, 2.5], requires_grad=True)
    assert is_tensorlike(grad) and not is_tensorlike(np.ones(2)) and not is_tensorlike(Tensor)
    assert to_numpy(grad).tolist() == [1.5, 2.5] and grad.calls == ["detach"]
    half = to_numpy(Tensor([0.25, 70000.0], dtype="bfloat16"))
    assert half.dtype == np.float32 and half.tolist() == [0.25, 70000.0]
    plain = [1, 2]
    assert to_numpy(plain) is plain  # anything else untouched


def test_checks_take_tensors_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert as_float(Tensor(0.5, requires_grad=True), "scalar_value") == 0.5
        assert as_real_array(Tensor([1, 2], requires_grad=True), "x").tolist() == [1, 2]
        series = check_series("t", Tensor([1.0, 2.0], requires_grad=True), None, None)
        assert series.values.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="scalar_value must hold exactly one number"):
        as_float(Tensor([1.0, 2.0]), "scalar_value")


def test_hparams_policy_takes_one_element_tensors() -> None:
    assert checked_hparam_value("lr", Tensor(0.1, requires_grad=True)) == pytest.approx(0.1)
    assert checked_hparam_value("n", Tensor([3])) == 3.0
    assert checked_hparam_value("flag", Tensor(True)) is True
    assert hparam_value(Tensor([0.25])) == 0.25  # configs and searches alike
    with pytest.raises(TypeError, match="hparam 'lr'"):
        checked_hparam_value("lr", Tensor([0.1, 0.2]))


def test_writer_round_trip_both_histogram_forms(tmp_path) -> None:
    values = Tensor(np.linspace(-1.0, 1.0, 101), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with tbwrite.SummaryWriter(tmp_path / "torch") as w:
            w.add_scalar("loss", Tensor(0.75, requires_grad=True), 3)
            w.add_histogram("w", values, 3)
        with tbwrite.SummaryWriter(tmp_path / "tensor", histogram_form="tensor") as w:
            w.add_histogram("w", values, 3)
    loss = tbwrite.read_scalars(tmp_path / "torch")["."]["loss"]
    assert (loss.steps.tolist(), loss.values.tolist()) == ([3], [0.75])
    for form in ("torch", "tensor"):
        hist = tbwrite.read_histograms(tmp_path / form)["."]["w"]
        assert hist.steps.tolist() == [3], form
        (buckets,) = hist.values
        assert buckets[:, 2].sum() == 101, form
        assert (buckets[0, 0], buckets[-1, 1]) == (-1.0, 1.0), form


def test_histogram_form_is_checked(tmp_path) -> None:
    with pytest.raises(ValueError, match="histogram_form must be 'torch' or 'tensor'"):
        tbwrite.SummaryWriter(tmp_path, histogram_form="legacy")


def test_pixels_truncate_and_clip_with_one_warning_at_the_callers_line() -> None:
    torch_rules._warned.clear()
    with pytest.warns(UserWarning, match=r"img_tensor.*\[0, 1\]") as caught:
        px = torch_rules.pixels_uint8(np.array([0.5, 0.999, 1.5, -0.5]), "img_tensor")
    assert px.tolist() == [127, 254, 255, 0]  # times 255, truncated, clipped
    assert caught[0].filename == __file__  # points at the user's call, not into tbwrite
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch_rules.pixels_uint8(np.array([2.0]), "img_tensor")  # once per argument


def test_clipping_warning_through_the_writer_points_at_the_user(tmp_path) -> None:
    torch_rules._warned.clear()
    with tbwrite.SummaryWriter(tmp_path) as w:
        with pytest.warns(UserWarning, match=r"snd_tensor.*\[-1, 1\]") as caught:
            w.add_audio("a", Tensor([0.5, 1.5], requires_grad=True), 0)
    assert caught[0].filename == __file__
