"""Every SummaryWriter method takes what torch's writer takes: tensors that require grad,
bfloat16 / float16 / int tensors, 0-d tensors, numpy scalars as hparam values — with no
warning at all, and writing exactly what the same values as plain numpy arrays write.

Each case runs twice: with real torch tensors (skipped where torch is not installed) and
with ``FakeTensor``, a stand-in that behaves as torch does where it matters (``.numpy()``
raises while the tensor requires grad, ``float()`` of one warns, its dtype may be one numpy
lacks), so the conversion is tested on CI without torch.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from readback import all_events

from tbwrite import SummaryWriter

pytestmark = pytest.mark.filterwarnings("error")

RNG = np.random.default_rng(3)


class FakeDtype:
    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return f"fake.{self.name}"


class FakeTensor:
    """torch.Tensor's conversion surface, on a numpy array (float32 values for the halves)."""

    def __init__(self, data, dtype=None, requires_grad=False) -> None:
        self._data = np.asarray(data)
        self.dtype = FakeDtype(dtype or self._data.dtype.name)
        self.requires_grad = requires_grad
        self.shape = self._data.shape
        self.ndim = self._data.ndim

    def detach(self) -> FakeTensor:
        return FakeTensor(self._data, self.dtype.name)

    def cpu(self) -> FakeTensor:
        return self

    def float(self) -> FakeTensor:
        return FakeTensor(self._data.astype(np.float32))

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad.")
        if self.dtype.name not in np.sctypeDict:
            raise TypeError(f"Got unsupported ScalarType {self.dtype.name}")
        return self._data

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def __float__(self) -> float:
        if self.requires_grad:
            warnings.warn("Converting a tensor that requires grad", UserWarning, stacklevel=2)
        return float(self._data.reshape(()))

    def __index__(self) -> int:  # torch: integer tensors of one element only
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.reshape(()))

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, i):
        return FakeTensor(self._data[i], self.dtype.name)


def _torch():
    return pytest.importorskip("torch")


@pytest.fixture(params=["fake", "torch"])
def make(request):
    """make(array, kind) -> a tensor holding ``array``: kind 'grad' (float32, requires grad),
    'bf16', 'f16', 'int' or 'plain'. Values are chosen exact in every dtype used."""
    if request.param == "fake":

        def fake(arr, kind="grad"):
            arr = np.asarray(arr)
            if kind == "grad":
                return FakeTensor(arr.astype(np.float32), requires_grad=True)
            if kind in ("bf16", "f16"):
                return FakeTensor(
                    arr.astype(np.float32), "bfloat16" if kind == "bf16" else "float16"
                )
            if kind == "int":
                return FakeTensor(arr.astype(np.int64))
            return FakeTensor(arr)

        return fake
    torch = _torch()

    def real(arr, kind="grad"):
        arr = np.asarray(arr)
        if kind == "grad":
            return torch.tensor(arr, dtype=torch.float32, requires_grad=True) * 1.0
        if kind == "bf16":
            return torch.tensor(arr, dtype=torch.bfloat16)
        if kind == "f16":
            return torch.tensor(arr, dtype=torch.float16)
        if kind == "int":
            return torch.tensor(arr.astype(np.int64))
        return torch.tensor(arr)

    return real


def events_of(run_dir):
    """Every summary value of a run, wall times dropped: (step, serialized Summary)."""
    return [
        (e.step, e.summary.SerializeToString())
        for e in all_events(run_dir)
        if e.HasField("summary")
    ]


def same_as_numpy(tmp_path, call, tensors, arrays):
    """``call(writer, *values)`` with the tensors and with their numpy equivalents writes
    the same summaries."""
    with SummaryWriter(tmp_path / "t") as w:
        call(w, *tensors)
    with SummaryWriter(tmp_path / "n") as w:
        call(w, *arrays)
    got, want = events_of(tmp_path / "t"), events_of(tmp_path / "n")
    assert got and got == want


# Values exact in bfloat16 and float16 (multiples of 1/8 below 32): conversions to float32
# lose nothing, so tensors of every kind must write what float32 numpy arrays write.
EXACT = np.round(RNG.uniform(-4, 4, (2, 3, 4, 5)) * 8) / 8
UNIT = np.round(RNG.uniform(0, 1, (2, 3, 4, 5)) * 8) / 8
KINDS = ["grad", "bf16", "f16", "int"]


def as_f32(arr, kind):
    arr = np.asarray(arr)
    return arr.astype(np.int64) if kind == "int" else arr.astype(np.float32)


@pytest.mark.parametrize("kind", KINDS)
def test_scalars(tmp_path, make, kind) -> None:
    v = np.float64(2.5) if kind != "int" else np.int64(2)
    with SummaryWriter(tmp_path / "t") as w:
        w.add_scalar("s", make(v, kind), 1)
        w.add_scalar("n", make(np.array([v]), kind), 2, new_style=True)
        w.add_scalars("m", {"x": make(v, kind), "y": make(np.array([v]), kind)}, 3)
        w.add_scalar_series("ser", make(EXACT[0, 0, 0], kind), make(np.arange(5), "int"))
    with SummaryWriter(tmp_path / "n") as w:
        w.add_scalar("s", float(v), 1)
        w.add_scalar("n", float(v), 2, new_style=True)
        w.add_scalars("m", {"x": float(v), "y": float(v)}, 3)
        w.add_scalar_series("ser", as_f32(EXACT[0, 0, 0], kind), np.arange(5))
    for run in ("", "m_x", "m_y"):
        assert events_of(tmp_path / "t" / run) == events_of(tmp_path / "n" / run)


@pytest.mark.parametrize("kind", KINDS)
def test_histograms(tmp_path, make, kind) -> None:
    same_as_numpy(
        tmp_path,
        lambda w, a, lim, cnt: (
            w.add_histogram("h", a, 0),
            w.add_histogram("h30", a, 1, bins=30, max_bins=7),
            w.add_histogram_raw("raw", -1, 1, 3, 0, 2, lim, cnt, 2),
        ),
        [make(EXACT, kind), make([0.0, 1.0], kind), make([1, 2], kind)],
        [as_f32(EXACT, kind), as_f32([0.0, 1.0], kind), as_f32([1, 2], kind)],
    )


@pytest.mark.parametrize("kind", ["grad", "bf16", "f16"])
def test_images_video_figure_inputs(tmp_path, make, kind) -> None:
    pytest.importorskip("PIL")
    boxes = [[0.0, 1.0, 3.0, 4.0], [1.0, 0.0, 2.0, 2.0]]
    same_as_numpy(
        tmp_path,
        lambda w, img, batch, bx, vid: (
            w.add_image("i", img, 0),
            w.add_images("b", batch, 0),
            w.add_image_with_boxes("x", img, bx, 0),
            w.add_video("v", vid, 0, fps=2),
        ),
        [
            make(UNIT[0, :3], kind),
            make(UNIT[:, :3], kind),
            make(boxes, kind),
            make(UNIT[:, :3, :, :3].reshape(1, 2, 3, 4, 3), kind),
        ],
        [
            as_f32(UNIT[0, :3], kind),
            as_f32(UNIT[:, :3], kind),
            as_f32(boxes, kind),
            as_f32(UNIT[:, :3, :, :3].reshape(1, 2, 3, 4, 3), kind),
        ],
    )


def test_uint8_and_int_images(tmp_path, make) -> None:
    pixels = RNG.integers(0, 256, (3, 4, 5)).astype(np.uint8)
    torch_or_fake = make(pixels, "plain")
    same_as_numpy(tmp_path, lambda w, img: w.add_image("i", img, 0), [torch_or_fake], [pixels])


@pytest.mark.parametrize("kind", ["grad", "bf16", "f16"])
def test_audio_pr_curve_mesh(tmp_path, make, kind) -> None:
    sound = EXACT[0, 0].ravel() / 4
    labels = (UNIT[0, 0].ravel() > 0.5).astype(np.int64)
    preds = UNIT[0, 1].ravel()
    verts = EXACT[0, :2, :3, :3].reshape(1, 6, 3)
    faces = np.array([[[0, 1, 2], [3, 4, 5]]])
    colors = (UNIT[0, :2, :3, :3].reshape(1, 6, 3) * 0 + 1).astype(np.float32)
    rows = [
        np.array([3.0, 1.0]),
        np.array([1.0, 0.0]),
        np.array([0.0, 1.0]),
        np.array([0.0, 2.0]),
        np.array([0.75, 1.0]),
        np.array([1.0, 0.5]),
    ]

    def call(w, snd, lab, pr, v, f, c, *raw):
        w.add_audio("a", snd, 0, sample_rate=8000)
        w.add_pr_curve("pr", lab, pr, 0, num_thresholds=9)
        w.add_pr_curve_raw("raw", *raw, global_step=1)
        w.add_mesh("m", v, colors=c, faces=f, global_step=0)

    same_as_numpy(
        tmp_path,
        call,
        [
            make(sound, kind),
            make(labels, "int"),
            make(preds, kind),
            make(verts, kind),
            make(faces, "int"),
            make(colors, kind),
            *(make(r, kind) for r in rows),
        ],
        [
            as_f32(sound, kind),
            labels,
            as_f32(preds, kind),
            as_f32(verts, kind),
            faces,
            as_f32(colors, kind),
            *(as_f32(r, kind) for r in rows),
        ],
    )


@pytest.mark.parametrize("kind", ["grad", "bf16", "f16"])
def test_embedding(tmp_path, make, kind) -> None:
    mat = EXACT[0, 0]
    label_img = UNIT.ravel()[:48].reshape(4, 3, 2, 2)
    with SummaryWriter(tmp_path / "t") as w:
        w.add_embedding(make(mat, kind), metadata=list("abcd"), label_img=make(label_img, kind))
    with SummaryWriter(tmp_path / "n") as w:
        w.add_embedding(as_f32(mat, kind), metadata=list("abcd"), label_img=as_f32(label_img, kind))
    for name in ("tensors.tsv", "metadata.tsv", "sprite.png"):
        got = (tmp_path / "t" / "00000" / "default" / name).read_bytes()
        assert got == (tmp_path / "n" / "00000" / "default" / name).read_bytes()


def test_hparams_tensors_and_numpy_scalars(tmp_path, make) -> None:
    import tbwrite

    with SummaryWriter(tmp_path / "run") as w:
        w.add_hparams(
            {
                "lr": make(np.float32(0.125), "grad"),
                "one": make(np.array([0.5]), "plain"),
                "bf": make(np.float32(1.5), "bf16"),
                "layers": make(np.int64(4), "int"),
                "np32": np.float32(0.25),
                "np64": np.int64(7),
                "npbool": np.bool_(True),
            },
            {"loss": make(np.float32(0.75), "grad")},
        )
    (row,) = tbwrite.read_hparams(tmp_path)
    assert row.hparams == {
        "lr": 0.125,
        "one": 0.5,
        "bf": 1.5,
        "layers": 4.0,
        "np32": 0.25,
        "np64": 7.0,
        "npbool": True,
    }
    assert row.metrics == {"loss": 0.75}


def test_a_tensor_of_many_values_is_no_hparam(tmp_path, make) -> None:
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(TypeError, match="'lr'"):
            w.add_hparams({"lr": make(np.array([0.1, 0.2]), "plain")})


def test_torch_parameters_and_devices_without_warnings(tmp_path) -> None:
    torch = _torch()
    layer = torch.nn.Linear(4, 3)
    loss = layer(torch.ones(2, 4)).pow(2).mean()
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("loss", loss, 0)
        w.add_histogram("fc.weight", layer.weight, 0)
        w.add_histogram("fc.bias/bf16", layer.bias.to(torch.bfloat16), 0)
        w.add_histogram("meta/int", torch.arange(10), 0)
        w.add_scalar("zero_d", torch.tensor(3.0), 1)
    events = [v for e in all_events(tmp_path) for v in e.summary.value]
    assert {v.tag for v in events} == {"loss", "fc.weight", "fc.bias/bf16", "meta/int", "zero_d"}
    (scalar,) = [v for v in events if v.tag == "loss"]
    assert scalar.simple_value == pytest.approx(float(loss.detach()))


def test_every_method_takes_tensor_steps_and_walltimes(tmp_path, make) -> None:
    """Methods whose values are no tensors (text, figures, layouts) still take a tensor
    global_step / walltime, as every other method does."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    step = make(np.int64(7), "int")
    wall = make(np.float64(1_700_000_000.0), "plain")
    with SummaryWriter(tmp_path) as w:
        w.add_text("t", "x", step, wall)
        w.add_figure("f", plt.figure(figsize=(1, 1), dpi=10), step, walltime=wall)
        w.add_custom_scalars({"c": {"l": ["Multiline", ["t"]]}})
        w.add_scalar("s", make(np.float32(1.0), "grad"), step, wall)
        w.add_embedding(make(EXACT[0, 0], "grad"), global_step=step)
    events = [e for e in all_events(tmp_path) if e.HasField("summary")]
    tagged = {v.tag: e for e in events for v in e.summary.value}
    for tag in ("t", "f", "s"):
        assert (tagged[tag].step, tagged[tag].wall_time) == (7, 1_700_000_000.0), tag
    assert "custom_scalars__config__" in tagged
    assert (tmp_path / "00007" / "default" / "tensors.tsv").exists()
