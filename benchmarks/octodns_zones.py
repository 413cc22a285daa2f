"""octoDNS's no-change dry-run of N zones: the yardstick of issue 24's plan targets.

Used by no_change_plan.py (not a benchmark on its own). Each zone has 30 records of the
usual kinds (A, AAAA, MX, TXT, CNAME, SRV), written with octoDNS's own YAML dumper into
two folders: ``config`` (what the repository says) and ``live`` (what the DNS provider
holds), the same. ``octodns-sync`` without ``--doit`` then reads both sides of every
zone, validates every record and plans: no change, the same everyday run as our
no-change plan. Both providers are octoDNS's ``YamlProvider``, so no network is in the
way of either tool and each does its own reading, validating and diffing.

octoDNS is a benchmark-only dependency (the ``bench`` extra in pyproject.toml).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from _common import Run, run_process

RECORDS_PER_ZONE = 30
HOSTS = RECORDS_PER_ZONE - 7  # beside the 4 at the apex, www, mail and the SRV record


def available() -> str | None:
    """octoDNS's version when it is installed here, else None."""
    if importlib.util.find_spec("octodns") is None:
        return None
    from importlib.metadata import version

    return version("octodns")


def zone_name(n: int) -> str:
    return f"club-{n:05d}.example."


def zone_records(n: int) -> dict[str, object]:
    """30 records, as octoDNS's YAML zone files hold them (a list where a name has more
    than one type)."""
    third = n % 250
    records: dict[str, object] = {
        "": [
            {"type": "A", "ttl": 300, "values": [f"192.0.2.{third + 1}", "198.51.100.1"]},
            {"type": "AAAA", "value": f"2001:db8::{n % 65536:x}"},
            {
                "type": "MX",
                "values": [
                    {"preference": 10, "exchange": "mx1.example.net."},
                    {"preference": 20, "exchange": "mx2.example.net."},
                ],
            },
            {"type": "TXT", "value": "v=spf1 include:_spf.example.net -all"},
        ],
        "www": {"type": "CNAME", "value": f"{zone_name(n)}"},
        "mail": {"type": "A", "value": f"203.0.113.{third + 1}"},
        "_sip._tcp": {
            "type": "SRV",
            "value": {"priority": 10, "weight": 20, "port": 5060, "target": "sip.example.net."},
        },
    }
    for h in range(HOSTS):
        if h % 2:
            records[f"host{h:02d}"] = {"type": "AAAA", "value": f"2001:db8:{h:x}::{n % 65536:x}"}
        else:
            records[f"host{h:02d}"] = {"type": "A", "ttl": 600, "value": f"198.51.100.{h + 2}"}
    return records


def generate(workdir: Path, count: int) -> Path:
    """The zone files of ``count`` zones on both sides and octoDNS's configuration; the
    configuration file's path. Run in a child (it imports octoDNS)."""
    from octodns.yaml import safe_dump

    config = workdir / "octodns.yaml"
    marker = workdir / "generated"
    if marker.exists() and marker.read_text() == str(count):
        return config
    for side in ("config", "live"):
        folder = workdir / side
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(count):
            with (folder / f"{zone_name(n)}yaml").open("w") as out:
                safe_dump(zone_records(n), out)
    provider = {"class": "octodns.provider.yaml.YamlProvider", "escaped_semicolons": False}
    with config.open("w") as out:
        safe_dump(
            {
                "providers": {
                    "config": {**provider, "directory": str(workdir / "config")},
                    "live": {**provider, "directory": str(workdir / "live")},
                },
                "zones": {
                    zone_name(n): {"sources": ["config"], "targets": ["live"]} for n in range(count)
                },
            },
            out,
        )
    marker.write_text(str(count))
    return config


def dry_run(config: Path, env: dict[str, str]) -> Run:
    """``octodns-sync --config-file CONFIG`` (a dry-run: no ``--doit``) as its own process;
    fails unless it planned no change."""
    run = run_process(
        [sys.executable, "-m", "octodns.cmds.sync", "--config-file", str(config)], env
    )
    if run.exit_code != 0:
        raise SystemExit(f"octodns-sync failed ({run.exit_code}):\n{run.errors}")
    if "No changes were planned" not in run.errors:
        raise SystemExit(f"octodns-sync planned changes:\n{run.errors}")
    return run
