"""The operator's temp root: what a killed operator left is swept at the next start (issue 11, item 12).

Real processes hold and lose the folder locks here: one is killed with SIGKILL, one stays alive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kratix_py.operator.temproot import TempRoot
from kratix_py.testing.fixtures import wait_for

_HOLDER = """
import sys, time
from pathlib import Path
from kratix_py.operator.temproot import TempRoot
root = TempRoot.claim(sys.argv[1])
(root.git_cache / "clone").mkdir(parents=True)
(root.path / "kratix-git-auth-x").mkdir()
(root.path / "kratix-git-auth-x" / "id").write_text("PRIVATE KEY")
print(root.path, flush=True)
time.sleep(600)
"""


def _holder(base: Path) -> tuple[subprocess.Popen[str], Path]:
    process = subprocess.Popen([sys.executable, "-c", _HOLDER, str(base)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, Path(process.stdout.readline().strip())


def test_a_killed_operators_clones_and_keys_are_swept_a_living_ones_are_kept(tmp_path: Path) -> None:
    base = tmp_path / "kratix-py-operator"
    killed, killed_dir = _holder(base)
    alive, alive_dir = _holder(base)
    try:
        assert (killed_dir / "kratix-git-auth-x" / "id").exists()
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(10)
        mine = TempRoot.claim(base)
        try:
            assert not killed_dir.exists(), "the killed operator's clone and key folder are gone"
            assert (alive_dir / "git-cache" / "clone").exists(), "a living operator's folder stays"
            assert mine.path.parent == base and mine.path.exists()
            assert sorted(p.name for p in base.iterdir()) == sorted([alive_dir.name, mine.path.name])
        finally:
            mine.release()
        assert not mine.path.exists(), "a clean stop leaves nothing behind"
    finally:
        alive.kill()
        alive.wait(10)
    # Once the other one is gone too, the next start leaves only its own folder.
    wait_for(lambda: alive.poll() is not None, what="the holder to exit")
    time.sleep(0.1)
    last = TempRoot.claim(base)
    assert [p.name for p in base.iterdir()] == [last.path.name]
    last.release()
