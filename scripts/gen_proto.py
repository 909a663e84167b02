"""Regenerate tbwrite/_proto/*_pb2.py(i) from proto/tbwrite/_proto/*.proto.

Usage: python scripts/gen_proto.py [--check]

The generated code must come from one protoc version, so that every machine produces the
same bytes and the code runs on the whole protobuf range tbwrite declares (4.21.6 to 7.x):
protoc 25.1 from grpcio-tools 1.62.3. Without that version importable here, the script
installs it into a throw-away virtual environment. ``--check`` regenerates into a temporary
directory and exits 1 if the committed files differ.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

GRPCIO_TOOLS = "1.62.3"
ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PROTO_DIR = PROTO_ROOT / "tbwrite" / "_proto"
OUT_DIR = ROOT / "tbwrite" / "_proto"


def _protoc_python() -> str:
    """A Python interpreter that has grpcio-tools == GRPCIO_TOOLS."""
    probe = "import importlib.metadata as m; print(m.version('grpcio-tools'))"
    try:
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        )
        if out.stdout.strip() == GRPCIO_TOOLS:
            return sys.executable
    except subprocess.CalledProcessError:
        pass
    env_dir = Path(tempfile.gettempdir()) / f"tbwrite-grpcio-tools-{GRPCIO_TOOLS}"
    python = env_dir / "bin" / "python"
    if not python.exists():
        venv.create(env_dir, with_pip=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"grpcio-tools=={GRPCIO_TOOLS}"], check=True
        )
    return str(python)


def generate(out_root: Path) -> list[Path]:
    protos = sorted(PROTO_DIR.glob("*.proto"))
    python = _protoc_python()
    subprocess.run(
        [
            python,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"--python_out={out_root}",
            f"--pyi_out={out_root}",
            *[str(p.relative_to(PROTO_ROOT)) for p in protos],
        ],
        check=True,
        cwd=PROTO_ROOT,
    )
    out = out_root / "tbwrite" / "_proto"
    return sorted(out.glob("*_pb2.py*"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if committed code is stale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = generate(Path(tmp))
        if args.check:
            stale = [
                f.name
                for f in files
                if not (OUT_DIR / f.name).exists()
                or not filecmp.cmp(f, OUT_DIR / f.name, shallow=False)
            ]
            extra = sorted({p.name for p in OUT_DIR.glob("*_pb2.py*")} - {f.name for f in files})
            if stale or extra:
                print(f"stale generated code: {stale + extra}; run python scripts/gen_proto.py")
                return 1
            print(f"{len(files)} generated files match proto/")
            return 0
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(f, OUT_DIR / f.name)
        (OUT_DIR / "__init__.py").write_text(
            '"""Generated protobuf code; see scripts/gen_proto.py."""\n'
        )
        print(f"wrote {len(files)} files to {OUT_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
