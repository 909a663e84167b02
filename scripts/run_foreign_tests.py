"""Run other projects' own tests of TensorFlow's writers with tbwrite's clu-style writer
swapped in, and print how many pass.

- tbparse's ``test_tensorflow`` tests (one per kind, 10 in tbparse 0.0.9): each logs with
  ``tf.summary`` and reads the files back with tbparse. Here ``tf.summary``'s writing
  functions (``create_file_writer``, ``scalar``, ``image``, ``audio``, ``histogram``,
  ``text``) and the hparams API's ``hparams`` go to
  :class:`tbwrite.integrations.clu.SummaryWriter`, as clu's own writer maps them; everything
  else the tests use from TensorFlow (``tf.audio.decode_wav``, ``encode_wav``,
  ``tf.image.decode_image``, ``tf.make_ndarray``) stays TensorFlow's, so the expected values
  are TensorFlow's own.
- clu's ``SummaryWriter`` tests (``clu/metric_writers/tf/summary_writer_test.py``: 5 tests,
  and ``tf.test.TestCase``'s inherited ``test_session``, which pytest collects and TensorFlow
  skips, 6 in all): ``summary_writer.SummaryWriter`` is tbwrite's; the tests read the files
  with TensorFlow's ``summary_iterator``.

With ``--writer tf`` nothing is swapped: the same tests run against TensorFlow and clu
themselves, which checks the harness (tbparse 10 of 10, clu 5 of 6 with 1 skipped).

Measured with TensorFlow 2.21, tbparse 0.0.9, clu 0.0.12: tbparse 10 of 10, clu 5 of 6 with
1 skipped, as with clu's own writer.

Needs an environment with TensorFlow and what those tests import (tbparse, torch,
tensorboardX, soundfile, pandas, pytest, and for clu's writer itself jax)::

    pip install tensorflow-cpu torch tbparse pandas pytest tensorboardX soundfile jax wrapt
    pip download clu==0.0.12 --no-deps --no-binary :all: -d /tmp/src   # clu's sdist has its tests
    git clone --branch v0.0.9 <tbparse's git repository> /tmp/src/tbparse  # no tests in its sdist
    PYTHONPATH=. python scripts/run_foreign_tests.py \\
        --tbparse /tmp/src/tbparse --clu /tmp/src/clu-0.0.12.tar.gz

``--clu`` takes the sdist or its unpacked directory. The exit status is 0 whatever the
counts; the counts are the result.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TBPARSE_FILES = [
    "test_audio.py",
    "test_audio_2_channels.py",
    "test_audios.py",
    "test_histogram.py",
    "test_hparams.py",
    "test_image.py",
    "test_images.py",
    "test_scalar.py",
    "test_tensor.py",
    "test_text.py",
]

# A pytest plugin, loaded with -p: swaps TensorFlow's writing calls in the test modules.
PLUGIN = r'''
import contextlib
import os
import sys
import types

SWAP = os.environ["FOREIGN_WRITER"] == "tbwrite"


def _clu_writer():
    from tbwrite.integrations.clu import SummaryWriter

    return SummaryWriter


class _FileWriter:
    """tf.summary's file writer, as the clu-style writer."""

    default = None

    def __init__(self, logdir, **kwargs):
        self.writer = _clu_writer()(logdir)

    def set_as_default(self, step=None):
        _FileWriter.default = self

    @contextlib.contextmanager
    def as_default(self, step=None):
        previous, _FileWriter.default = _FileWriter.default, self
        try:
            yield self
        finally:
            _FileWriter.default = previous

    def flush(self):
        self.writer.flush()

    def close(self):
        self.writer.close()


def _writer():
    return _FileWriter.default.writer


class _Summary:
    """tf.summary with its writing functions mapped as clu's SummaryWriter maps them."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def create_file_writer(self, logdir, **kwargs):
        return _FileWriter(logdir, **kwargs)

    def scalar(self, name, data, step=None, description=None):
        _writer().write_scalars(step, {name: data})
        return True

    def image(self, name, data, step=None, max_outputs=3, description=None):
        _writer().write_images(step, {name: data[:max_outputs]})
        return True

    def audio(self, name, data, sample_rate, step=None, max_outputs=3, encoding=None,
              description=None):
        _writer().write_audios(step, {name: data[:max_outputs]}, sample_rate=sample_rate)
        return True

    def histogram(self, name, data, step=None, buckets=None, description=None):
        nb = None if buckets is None else {name: buckets}
        _writer().write_histograms(step, {name: data}, num_buckets=nb)
        return True

    def text(self, name, data, step=None, description=None):
        _writer().write_texts(step, {name: data})
        return True


class _Tf(types.ModuleType):
    def __init__(self, real):
        super().__init__("tensorflow")
        self._real = real
        self.summary = _Summary(real.summary)

    def __getattr__(self, name):
        return getattr(self._real, name)


class _Hp:
    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def hparams(self, hparams, trial_id=None, start_time_secs=None):
        _writer().write_hparams(hparams)
        return True


def _install_clu():
    """clu.metric_writers.tf.summary_writer: clu's own, or a module whose SummaryWriter is
    tbwrite's."""
    if not SWAP:
        return
    names = ["clu", "clu.metric_writers", "clu.metric_writers.tf"]
    for name in names:
        module = types.ModuleType(name)
        module.__path__ = []
        sys.modules[name] = module
    shim = types.ModuleType("clu.metric_writers.tf.summary_writer")
    shim.SummaryWriter = _clu_writer()
    sys.modules[shim.__name__] = shim
    sys.modules["clu.metric_writers.tf"].summary_writer = shim


_install_clu()


def pytest_collection_modifyitems(session, config, items):
    if not SWAP:
        return
    seen = set()
    for item in items:
        module = getattr(item, "module", None)
        if module is None or id(module) in seen:
            continue
        seen.add(id(module))
        if hasattr(module, "tf") and not isinstance(module.tf, _Tf):
            module.tf = _Tf(module.tf)
        if hasattr(module, "hp") and not isinstance(module.hp, _Hp):
            module.hp = _Hp(module.hp)
'''

_SUMMARY = re.compile(r"=+ (.*) in [\d.]+s")


def _run(tests: Path, args: list[str], writer: str, extra_path: list[str]) -> dict[str, str]:
    """Run pytest in a subprocess; return {test id: outcome}."""
    env = dict(os.environ)
    env["FOREIGN_WRITER"] = writer
    env["PYTHONPATH"] = os.pathsep.join(
        [str(tests), *extra_path, env.get("PYTHONPATH", ""), str(ROOT)]
    )
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    cmd = [
        sys.executable, "-m", "pytest", "-p", "foreign_swap", "-p", "no:cacheprovider",
        "-rA", "-q", "--timeout=300", *args,
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tests, env=env, capture_output=True, text=True, timeout=1800)
    outcomes: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"^(PASSED|FAILED|ERROR) (\S+)", line)
        if m:
            outcomes[m.group(2)] = m.group(1)
        elif line.startswith("SKIPPED"):  # SKIPPED [n] file:line: reason
            outcomes[line.split(" ", 2)[2]] = "SKIPPED"
    if not outcomes:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
    return outcomes


def _print_outcomes(outcomes: dict[str, str]) -> None:
    for test, outcome in sorted(outcomes.items()):
        print(f"  {outcome:7} {test}")


def _count(outcomes: dict[str, str], total: int) -> str:
    passed = sum(o == "PASSED" for o in outcomes.values())
    skipped = sum(o == "SKIPPED" for o in outcomes.values())
    return f"{passed} of {total} pass ({total - passed - skipped} fail, {skipped} skipped)"


def run_tbparse(src: Path, writer: str, work: Path) -> str:
    tests = work / "tbparse"
    shutil.copytree(src / "tests", tests / "tests")
    (tests / "foreign_swap.py").write_text(PLUGIN)
    files = [f"tests/test_summary_reader/{name}" for name in TBPARSE_FILES]
    outcomes = _run(tests, [*files, "-k", "test_tensorflow"], writer, [])
    _print_outcomes(outcomes)
    return _count(outcomes, len(TBPARSE_FILES))


def run_clu(src: Path, writer: str, work: Path) -> str:
    if src.is_file():
        with tarfile.open(src) as tar:
            tar.extractall(work / "clu-src", filter="data")
        src = next((work / "clu-src").iterdir())
    tests = work / "clu"
    tests.mkdir()
    test_file = src / "clu" / "metric_writers" / "tf" / "summary_writer_test.py"
    shutil.copy(test_file, tests / "test_clu_summary_writer.py")
    (tests / "foreign_swap.py").write_text(PLUGIN)
    outcomes = _run(tests, ["test_clu_summary_writer.py"], writer, [str(src)])
    _print_outcomes(outcomes)
    # tf.test.TestCase's inherited test_session is collected and skipped ("Not a test."),
    # with clu's own writer as with tbwrite's: counted, as pytest counts it, not as passed.
    return _count(outcomes, len(outcomes))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tbparse", type=Path, help="tbparse's source tree (with tests/)")
    parser.add_argument("--clu", type=Path, help="clu's sdist or unpacked source")
    parser.add_argument("--writer", choices=["tbwrite", "tf"], default="tbwrite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.tbparse:
            print(
                f"tbparse test_tensorflow ({args.writer}):",
                run_tbparse(args.tbparse, args.writer, work),
            )
        if args.clu:
            print(f"clu SummaryWriter tests ({args.writer}):", run_clu(args.clu, args.writer, work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
