"""A small client of GitHub's and GitLab's REST APIs for the CI kit's scripts
(``scripts/ci``): GET with paging, the few writes the scripts make, and one line for any
failure. The scripts run as ``python -I`` (nothing of the checkout on ``sys.path``) and
reach this module through the installed package, as they reach the rest of the tool.

Standard library only (urllib): a redirect is refused, since it would carry the token
wherever it points, and an answer is read to a bound.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, NoReturn

# The label that approves a merged change's deletes: read from the merged pull or merge
# request through the API at merge time, never from the plan its own pipeline wrote.
APPROVAL_LABEL = "t4o:allow-deletes"
SHA = re.compile(r"[0-9a-f]{40}")
# GitHub's own rules: an owner is letters, digits and inner hyphens; a name is letters,
# digits, '-', '_' and '.', but never '.' or '..' (a path segment that climbs).
REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?/(?!\.\.?$)[A-Za-z0-9_.-]+")
_PAGE = 100
_MAX_PAGES = 50


class Refused(Exception):
    """Why no reviewed plan may be applied: one line for the job's log."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: urllib would send the token on to wherever it points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)
_MAX_ANSWER = 64 * 1024 * 1024


class Api:
    """GET on one forge's REST API, with its token; every failure is a Refused line."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base = base
        self.headers = {"User-Agent": "t4o-reconcile-ci", **headers}

    def raw(self, path: str, **query: str | int) -> bytes:
        url = f"{self.base}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return _answer(urllib.request.Request(url, headers=self.headers, method="GET"), path)

    def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST, PATCH, PUT or DELETE with a JSON body; the JSON answer (None when empty).
        Used by the scripts that write back (comment.py, report.py), never by this one."""
        data = None if body is None else json.dumps(body).encode()
        headers = {**self.headers, "Content-Type": "application/json"} if data else self.headers
        request = urllib.request.Request(
            f"{self.base}{path}", data=data, headers=headers, method=method
        )
        raw = _answer(request, path)
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise Refused(f"{method} {path} answered something that is not JSON") from None

    def get(self, path: str, **query: str | int) -> Any:
        try:
            return json.loads(self.raw(path, **query))
        except ValueError:
            raise Refused(f"GET {path} answered something that is not JSON") from None

    def pages(self, path: str, key: str | None = None, **query: str | int) -> list[Any]:
        """Every item of a paginated list (a bare array, or the array under `key`)."""
        items: list[Any] = []
        for page in range(1, _MAX_PAGES + 1):
            answer = self.get(path, **query, per_page=_PAGE, page=page)
            batch = answer if key is None else field(answer, key, list, path)
            if not isinstance(batch, list):
                raise Refused(f"GET {path} answered {type(batch).__name__}, not a list")
            items += batch
            if len(batch) < _PAGE:
                return items
        raise Refused(f"GET {path}: more than {_MAX_PAGES * _PAGE} items")


def _answer(request: urllib.request.Request, path: str) -> bytes:
    """The body of the answer to ``request`` (at most ``_MAX_ANSWER`` bytes); a Refused
    line naming the method and ``path`` for an HTTP error, a failure or too much."""
    method = request.get_method()
    try:
        with _OPENER.open(request, timeout=60) as answer:
            body: bytes = answer.read(_MAX_ANSWER + 1)
    except urllib.error.HTTPError as exc:
        raise Refused(f"{method} {path} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError) as exc:
        raise Refused(f"{method} {path} failed: {getattr(exc, 'reason', exc)}") from None
    if len(body) > _MAX_ANSWER:
        raise Refused(f"{method} {path} answered more than {_MAX_ANSWER} bytes")
    return body


class GitHub(Api):
    def __init__(self, api: str, repo: str, token: str) -> None:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        super().__init__(f"{api.rstrip('/')}/repos/{repo}", headers)
        self.repo = repo


class GitLab(Api):
    def __init__(self, api: str, project: str, token: str) -> None:
        headers = {"PRIVATE-TOKEN": token} if token else {}
        quoted = urllib.parse.quote(project, safe="")
        super().__init__(f"{api.rstrip('/')}/projects/{quoted}", headers)


def field(obj: Any, name: str, kind: type, where: str) -> Any:
    value = obj.get(name) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Refused(f"{where}: the answer has no {kind.__name__} {name!r}")
    return value


def workflow_path(run: dict[str, Any], repo: str) -> str:
    """The run's workflow file, as `.github/workflows/x.yml` whichever form `path` takes
    (`owner/repo/.github/workflows/x.yml@ref` names it with its repository and ref)."""
    path = str(run.get("path", ""))
    if path.startswith(f"{repo}/"):
        path = path[len(repo) + 1 :].split("@", 1)[0]
    return path


def fail(message: str) -> NoReturn:
    # One line, whatever the answer held: no newline can start a workflow command.
    flat = message.replace("\r", "\\r").replace("\n", "\\n")
    print(f"Error: {flat}", file=sys.stderr)
    sys.exit(1)


def quoted_path(path: str) -> str:
    """``path`` as URL path segments, each quoted whole (a ``/`` inside stays a separator,
    anything else that could climb or end the path is escaped)."""
    return "/".join(urllib.parse.quote(part, safe="") for part in path.split("/"))


def github_client(repo: str) -> GitHub:
    """The repository ``repo`` on the API of ``GITHUB_API_URL`` with ``GITHUB_TOKEN``."""
    if not REPO.fullmatch(repo):
        fail(f"--repo {repo!r} is not OWNER/REPO")
    api = os.environ.get("GITHUB_API_URL", "https://api.github.com")
    return GitHub(api, repo, os.environ.get("GITHUB_TOKEN", ""))
