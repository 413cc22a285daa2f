"""Time and peak memory of ``validate`` on the largest accepted tenant file and on
rejected oversized ones: the input limits keep both bounded, whatever a file holds.

    python benchmarks/input_limits.py [--oversized-mb 50]

Each case is one tenant file in a folder of its own, validated by the real CLI as its own
process; its peak resident set comes from the kernel (``wait4``'s ``ru_maxrss``):

1. **largest accepted**: 1,000 users (the section maximum), each name at the 200-character
   maximum, padded with comments to just under the 1 MiB file limit: valid, exit 0;
2. **oversized**: the same kind of file grown to ``--oversized-mb`` (50 MB by default, the
   size that once took 22 s and 1 GB): refused at the line where 1 MiB is reached, exit 1;
3. **too deep**: 10,000 nested lists (a 20 kB file): refused where level 21 opens, exit 1.

Targets: every case under **2 s** and **100 MB**; each row prints its ratio to them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO

LIMIT = 1 << 20
TIME_TARGET_S = 2.0
MEMORY_TARGET_MB = 100.0
HEAD = 'slug: club\nname: Club\norganization_number: "914820332"\nusers:\n'


def users(count: int) -> str:
    lines = ["  - {email: owner@club.no, name: Owner, role: owner}\n"]
    name = "N" * 196
    lines += [f"  - {{email: u{i}@club.no, name: {name}{i:04d}}}\n" for i in range(count - 1)]
    return "".join(lines)


def largest_accepted() -> str:
    text = HEAD + users(1000)
    padding = LIMIT - len(text.encode()) - 1
    comment = "# " + "c" * 97 + "\n"
    return text + comment * (padding // len(comment))


def oversized(megabytes: int) -> str:
    body = users(1000)
    text = HEAD + body
    line = "  - {email: more@club.no, name: More}\n"
    return text + line * ((megabytes * 1_000_000 - len(text)) // len(line))


def too_deep() -> str:
    return HEAD.replace("users:\n", "") + "billing: " + "[" * 10_000 + "]" * 10_000 + "\n"


def validate(folder: Path) -> tuple[float, float, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("T4O_")}
    env["PYTHONPATH"] = str(REPO)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "t4o_reconcile", "validate", str(folder)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--oversized-mb", type=int, default=50)
    parser.add_argument("--write", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cases = [
        ("largest accepted", largest_accepted, 0),
        (f"oversized ({args.oversized_mb} MB)", lambda: oversized(args.oversized_mb), 1),
        ("too deep (10,000 levels)", too_deep, 1),
    ]
    if args.write:
        for number, (_, make, _) in enumerate(cases):
            folder = Path(args.write) / str(number)
            folder.mkdir()
            (folder / "club.yaml").write_text(make())
        return
    print(f"{'case':<28} {'file':>10} {'exit':>4} {'time':>8} {'peak':>9}  ratio to target")
    with tempfile.TemporaryDirectory(prefix="t4o-limits-") as tmp:
        # The files are written by a child process: a validate forked from a process that
        # had held 50 MB of text would count those pages in its own peak.
        write = [sys.executable, __file__, "--oversized-mb", str(args.oversized_mb)]
        subprocess.run([*write, "--write", tmp], check=True)
        folders = [Path(tmp) / str(number) for number in range(len(cases))]
        for (name, _, expected), folder in zip(cases, folders, strict=True):
            size = (folder / "club.yaml").stat().st_size
            seconds, peak, code = validate(folder)
            if code != expected:
                sys.exit(f"{name}: validate exited {code}, expected {expected}")
            print(
                f"{name:<28} {size / 1e6:>8.2f}MB {code:>4} {seconds:>7.2f}s {peak:>7.1f}MB"
                f"  {seconds / TIME_TARGET_S:.2f} / {peak / MEMORY_TARGET_MB:.2f}"
            )


if __name__ == "__main__":
    main()
