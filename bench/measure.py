"""Peak memory of a process tree, sampled while it runs (bench scripts only)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import psutil


def tree_memory(root: psutil.Process) -> tuple[int, int]:
    """Memory of `root` and all its descendants (a Spark driver's JVM, say), in bytes: the
    proportional set size (PSS), and its anonymous part (heaps, stacks, native allocations;
    without mapped files such as jars and shuffle files, which the kernel can drop).

    PSS, not RSS: a process the JVM forks (Hadoop runs shell commands) shares all the JVM's
    pages until it execs, and summing RSS would count those gigabytes twice."""
    pss = anonymous = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            with open(f"/proc/{proc.pid}/smaps_rollup") as rollup:
                fields = dict(line.split(":", 1) for line in rollup if ":" in line and not line[0].isdigit())
        except (OSError, ValueError):
            continue  # it ended between the listing and the reading
        pss += int(fields["Pss"].split()[0]) * 1024
        anonymous += int(fields.get("Pss_Anon", fields["Pss"]).split()[0]) * 1024
    return pss, anonymous


class PeakMemory:
    """Samples the memory of this process and all its children (the Spark JVM) in a thread."""

    def __init__(self, interval: float = 0.25):
        self.interval = interval
        self.peak = self.peak_anonymous = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            pss, anonymous = tree_memory(me)
            self.peak, self.peak_anonymous = max(self.peak, pss), max(self.peak_anonymous, anonymous)
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(command: list[str], env: dict[str, str], log: Path) -> tuple[dict, int, int, float]:
    """Run `command`, sampling the memory of its process tree (`tree_memory`); return the
    JSON object it prints last on stdout, the peak PSS and peak anonymous PSS in bytes, and
    the wall time. Its stderr goes to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    peak = peak_anonymous = 0
    with open(log, "w") as errors:
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
        root = psutil.Process(child.pid)
        while child.poll() is None:
            pss, anonymous = tree_memory(root)
            peak, peak_anonymous = max(peak, pss), max(peak_anonymous, anonymous)
            time.sleep(0.25)
        output = child.stdout.read()
    wall = time.perf_counter() - started
    if child.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-20:])
        raise SystemExit(f"{command[1]} failed (exit {child.returncode}); the end of {log}:\n{tail}")
    return json.loads(output.strip().splitlines()[-1]), peak, peak_anonymous, wall
