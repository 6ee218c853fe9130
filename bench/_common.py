"""What every benchmark shares: the machine's description, percentiles, tables, the cache.

Not a benchmark itself (``make bench`` runs only ``bench/bench_*.py``).
"""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CACHE = BENCH / ".cache"
PYTHON = sys.executable
SHORTSCI = str(Path(PYTHON).parent / "shortsci")


def machine() -> dict[str, str]:
    """nproc, CPU model, RAM, Python, SQLite and (if reachable) PostgreSQL versions."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        ram = f"{mem_kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        ram = "unknown"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load": load,
    }


def postgres_version(url: str) -> str:
    """The server version behind a PostgreSQL URL (via psql), or "unknown"."""
    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    try:
        out = subprocess.run(
            ["psql", plain, "-Atc", "SHOW server_version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def print_machine(extra: dict[str, str] | None = None) -> None:
    """One line that says where the figures below were measured."""
    info = machine() | (extra or {})
    print("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()))


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table (it reads fine in a terminal too)."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    """How a target is reported."""
    return "met" if ok else "MISSED"


def postgres_url(arg: str | None) -> str | None:
    """The PostgreSQL URL to benchmark on: the flag, else ``SHORTSCI_TEST_DATABASE_URL``.

    The database is wiped (schema recreated), as the test suite does with it.
    """
    url = arg or os.environ.get("SHORTSCI_TEST_DATABASE_URL")
    if not url:
        return None
    scheme, _, rest = url.partition("://")
    return f"postgresql+asyncpg://{rest}" if scheme.startswith("postgres") else url


class Stopwatch:
    """Wall time since creation."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Seconds elapsed."""
        return time.perf_counter() - self.started
