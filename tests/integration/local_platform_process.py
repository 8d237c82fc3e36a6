"""``kratix-py local-platform`` as a person runs it: a process in a terminal, read line by line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

KRATIX_PY = str(Path(sys.executable).with_name("kratix-py"))


class PlatformProcess:
    """Starts ``kratix-py local-platform ARGS`` and parses what it prints once it is up."""

    def __init__(self, args: Sequence[str], *, cwd: Path, as_background_job: bool = False) -> None:
        # A shell script's `command &` starts with SIGINT ignored; Ctrl-C and kill -INT must still stop it.
        ignore_sigint = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if as_background_job else None
        self.proc = subprocess.Popen(
            [KRATIX_PY, "local-platform", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Its own session: a signal meant for the test runner does not reach it, and ours reach only it.
            start_new_session=True,
            preexec_fn=ignore_sigint,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(line.startswith("Stop with Ctrl-C") for line in self.lines):
            if self.proc.poll() is not None:
                self._reader.join(5)
                raise AssertionError(f"local-platform exited with {self.proc.returncode}:\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"local-platform was not up after {timeout}s:\n{self.output}")
            time.sleep(0.1)

    def printed(self, pattern: str) -> str:
        """The first group of ``pattern`` in the output (which must be there)."""
        match = re.search(pattern, self.output, re.MULTILINE)
        assert match, f"{pattern!r} not in the output:\n{self.output}"
        return match.group(1)

    @property
    def kubeconfig(self) -> str:
        return self.printed(r"^\s*export KUBECONFIG=(\S+)$")

    @property
    def directory(self) -> Path:
        return Path(self.printed(r"^Directory\s+(\S+)"))

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": self.kubeconfig}

    def descendants(self) -> set[int]:
        """Processes started by the platform (children, grandchildren...), from /proc."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces and parentheses: the fields start after the last ")".
            fields = stat.rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
        found: set[int] = set()
        frontier = {self.proc.pid}
        while frontier:
            frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
            found |= frontier
        return found

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> int:
        self.proc.send_signal(sig)
        try:
            returncode = self.proc.wait(timeout)
        finally:
            self._reader.join(5)
        return returncode

    def kill(self) -> None:
        """Last resort after a failed test: ask nicely, then kill."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def kubectl(env: dict[str, str], *args: str, check: bool = True) -> str:
    done = subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=60)
    if check:
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def wait_kubectl(env: dict[str, str], args: Sequence[str], expected: str, timeout: float = 60) -> None:
    """Poll ``kubectl ARGS`` (a jsonpath query, say) until it prints ``expected``."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        last = kubectl(env, *args, check=False).strip()
        if last == expected:
            return
        time.sleep(0.5)
    raise AssertionError(f"kubectl {' '.join(args)} printed {last!r}, not {expected!r}, for {timeout}s")


def port_of(url: str) -> int:
    match = re.search(r":(\d+)(/|$)", url)
    assert match, url
    return int(match.group(1))
