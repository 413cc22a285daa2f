"""The week's GitHub: forge_standin.Forge (served by forge_standin.serve) with the few REST
endpoints only a week's scripts and runner read, in GitHub's shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.ci.forge_standin import Forge, page


def timestamp() -> str:
    """The one time every stand-in object carries (the scenario never compares times)."""
    return "2026-12-07T10:00:00Z"


@dataclass
class WeekForge(Forge):
    """forge_standin.Forge (runs, artifacts, commit → pulls, pull requests, issue events,
    permissions, comments and statuses, and the 401 for a wrong token) plus what a week
    reads besides: the list of pull requests, an issue read of a pull request, its labels,
    timeline and reviews; and where each uploaded artifact's files are (the runner's)."""

    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    artifact_files: dict[int, Path] = field(default_factory=dict)

    def github(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        match path.strip("/").split("/"):
            case ["issues", number] if number.isdigit():
                # An issue read of a pull request answers the pull request's issue fields
                # (labels, user, state), which the pull request object holds too.
                pull = self.pull_requests.get(int(number))
                return (200, pull) if pull else (404, {"message": "Not Found"})
            case ["pulls", number, "reviews"] if number.isdigit():
                return 200, page(self.reviews.get(int(number), []), query)
            case ["pulls"]:
                state = query.get("state", "open")
                pulls = [
                    p for p in self.pull_requests.values() if state == "all" or p["state"] == state
                ]
                return 200, page(pulls, query)
            case ["issues", number, "labels"] if int(number) in self.pull_requests:
                return 200, page(self.pull_requests[int(number)]["labels"], query)
            case ["issues", number, "timeline"] if number.isdigit():
                return 200, page(self.issue_events.get(int(number), []), query)
        return super().github(path, query)
