"""Fixtures shared by vmon's integration tests.

Environment:
  VMON_BUILD            build directory (default: <repo>/build)
  VMON_TEST_LOG_DIR     where console logs go (default: <build>/test-logs)
  VMON_TEST_VMM_CMD     run the Linux boot tests against another VMM; see test_linux_boot.py
"""

import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))


def _build_dir():
    env = os.environ.get("VMON_BUILD")
    return Path(env).resolve() if env else REPO / "build"


@pytest.fixture(scope="session")
def repo_dir():
    return REPO


@pytest.fixture(scope="session")
def build_dir():
    """The build directory: $VMON_BUILD or <repo>/build."""
    return _build_dir()


@pytest.fixture(scope="session")
def vmon_bin(build_dir):
    """build/vmon; the test is skipped when it has not been built."""
    p = build_dir / "vmon"
    if not os.access(p, os.X_OK):
        pytest.skip(f"{p} not built (make build)")
    return p


@pytest.fixture(scope="session")
def default_guest(build_dir):
    """The default guest's files (guest/build.sh output): a dict of Paths and the cmdline."""
    g = build_dir / "guest"
    files = {n: g / n for n in ("vmlinuz", "initrd.cpio.gz", "cmdline")}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        pytest.skip("default guest not built (make default-guest): missing " + ", ".join(missing))
    return {
        "dir": g,
        "kernel": files["vmlinuz"],
        "initrd": files["initrd.cpio.gz"],
        "vmlinux": g / "vmlinux",
        "cmdline": files["cmdline"].read_text().strip(),
    }


@pytest.fixture(scope="session")
def qemu_bin():
    q = shutil.which("qemu-system-x86_64")
    if not q:
        pytest.skip("qemu-system-x86_64 not installed (apt-get install qemu-system-x86)")
    return Path(q)


@pytest.fixture
def log_path(build_dir, request):
    """A per-test console log file under <build>/test-logs."""
    d = Path(os.environ.get("VMON_TEST_LOG_DIR", build_dir / "test-logs"))
    d.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    return d / f"{name}.log"
