#!/usr/bin/env bash
# Build a free-threaded CPython 3.13 ("3.13t", --disable-gil) into /opt/py313t.
#
# Manual, not part of CI: it takes about 5 minutes on 2 cores, plus the download. The system test
# tests/system/test_free_threading.py uses /opt/py313t/bin/python3.13t when it exists and
# skips otherwise. The source is the upstream CPython tarball that Debian's python3.13
# source package carries (its .orig.tar.xz, unpatched); only package registries are
# reachable here, so it comes through apt's deb-src rather than python.org.
#
# Usage: bash scripts/build_py313t.sh [PREFIX]   (as root; PREFIX defaults to /opt/py313t)
set -euo pipefail
PREFIX=${1:-/opt/py313t}
SRC=${SRC:-/opt/src}
JOBS=${JOBS:-2}

# A deb-src entry for a suite that has python3.13 (trixie); source only, binaries unaffected.
if ! apt-cache showsrc python3.13 2>/dev/null | grep -q '^Version: 3\.13'; then
    cat > /etc/apt/sources.list.d/trixie-src.sources <<'SRCS'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRCS
    apt-get update
fi
apt-get install -y --no-install-recommends dpkg-dev gcc make pkg-config xz-utils \
    libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev libsqlite3-dev \
    libreadline-dev libncurses-dev libgdbm-dev uuid-dev

mkdir -p "$SRC" && cd "$SRC"
ls python3.13_*.orig.tar.xz >/dev/null 2>&1 || apt-get source --download-only python3.13
TARBALL=$(ls python3.13_*.orig.tar.xz | sort -V | tail -1)
VERSION=${TARBALL#python3.13_}; VERSION=${VERSION%.orig.tar.xz}
rm -rf "Python-$VERSION" && tar xf "$TARBALL"
cd "Python-$VERSION"

# No PGO/LTO, no test run: a plain build is enough to check tbwrite on it.
./configure --disable-gil --prefix="$PREFIX" --with-ensurepip=install
make -j"$JOBS"
make install

"$PREFIX/bin/python3.13t" -c 'import sys, sysconfig; assert sysconfig.get_config_var("Py_GIL_DISABLED") == 1; print(sys.version, "gil enabled:", sys._is_gil_enabled())'
