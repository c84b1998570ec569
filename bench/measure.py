"""Peak resident memory of a process tree, sampled while it runs (bench scripts only)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import psutil


def tree_rss(root: psutil.Process) -> int:
    """Resident bytes of `root` and all its descendants (a Spark driver's JVM, say)."""
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass  # it ended between the listing and the reading
    return total


class PeakMemory:
    """Samples the RSS of this process and all its children (the Spark JVM) in a thread."""

    def __init__(self, interval: float = 0.25):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(me))
            time.sleep(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(command: list[str], env: dict[str, str], log: Path) -> tuple[dict, int, float]:
    """Run `command`, sampling the peak RSS of its process tree; return the JSON object it
    prints last on stdout, the peak in bytes and the wall time. Its stderr goes to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    peak = 0
    with open(log, "w") as errors:
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
        root = psutil.Process(child.pid)
        while child.poll() is None:
            peak = max(peak, tree_rss(root))
            time.sleep(0.25)
        output = child.stdout.read()
    wall = time.perf_counter() - started
    if child.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-20:])
        raise SystemExit(f"{command[1]} failed (exit {child.returncode}); the end of {log}:\n{tail}")
    return json.loads(output.strip().splitlines()[-1]), peak, wall
