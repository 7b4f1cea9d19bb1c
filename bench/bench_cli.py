"""Time `emoclip-clinic --help` (must stay under 0.5 s and never import torch).

Run from the repository root: ``.venv/bin/python bench/bench_cli.py [--runs 11] [--uv]``.
Prints the median and minimum wall time of a fresh process and whether torch was imported.
With ``--uv`` also what ``uv run`` adds before any command starts: ``uv run -q true`` (which
syncs the environment, and so reinstalls decord: README, set-up) against
``uv run -q --no-sync true``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

PROBE = (
    "import sys\nsys.argv = ['emoclip-clinic', '--help']\n"
    "from emoclip_clinic.cli import main\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "sys.stderr.write('torch imported: %s\\n' % ('torch' in sys.modules))"
)


def main() -> None:
    """Run the measurement and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--uv", action="store_true", help="also time uv run's own overhead")
    args = parser.parse_args()
    times, torch_line = [], ""
    for _ in range(args.runs):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        torch_line = done.stderr.strip().splitlines()[-1]
    load = os.getloadavg()[0]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {load:.1f}; python {platform.python_version()}")  # fmt: skip
    print("| command | median s | min s | runs | torch |")
    print("|---|---|---|---|---|")
    print(f"| emoclip-clinic --help | {statistics.median(times):.3f} | {min(times):.3f} | "
          f"{args.runs} | {torch_line} |")  # fmt: skip
    if args.uv:
        for command in (["uv", "run", "-q", "true"], ["uv", "run", "-q", "--no-sync", "true"]):
            runs = _times(command, args.runs)
            print(f"| {' '.join(command)} | {statistics.median(runs):.3f} | {min(runs):.3f} | "
                  f"{args.runs} | - |")  # fmt: skip


def _times(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


if __name__ == "__main__":
    main()
