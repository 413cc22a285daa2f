"""git, run only on the repository that holds the operator's tenant directory.

A pull request writes the tenant tree, so nothing in it may decide which repository git
opens or what git runs. The repository is found here, in Python, by a ``.git`` entry at
or above the tenant directory (git never checks out a path named ``.git``, so such an
entry is the checkout's own, never the pull request's); git is then given that git
directory and work tree explicitly, with the settings that run commands (fsmonitor,
hooks, external diff and textconv drivers) and implicit bare repositories turned off,
and without the GIT_* variables of the environment. A repository-shaped directory
inside the tenant tree is an error that names it, whether or not git would open it.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from t4o_reconcile.errors import ConfigError, WorkflowError

if TYPE_CHECKING:
    import subprocess

# Before the subcommand: every one of these is a way a repository's content or config
# could make a read-only git command run something or open another repository.
_HARDENED = (
    "--no-pager",
    *("-c", "safe.bareRepository=explicit"),
    *("-c", "core.fsmonitor=false"),
    *("-c", "core.hooksPath=/dev/null"),
    *("-c", "core.untrackedCache=false"),
    # Nothing here reads a remote: a partial clone's lazy fetch would be the only way.
    *("-c", "protocol.allow=never"),
)
# A commit id as rev-parse prints it (SHA-1 or SHA-256 repositories).
_COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
TIMEOUT = 120.0  # seconds; a diff of a large tree on a slow runner stays well inside


class LeavesRepository(ConfigError):
    """The tenant directory is reached through a symbolic link that leads out of the git
    repository it is named in."""

    def __init__(self, path: Path, link: Path) -> None:
        super().__init__(f"{link}: is a symbolic link to a path outside the repository")
        self.path = path  # the tenant directory as named
        self.link = link  # the link that leads out, as named


@dataclass(frozen=True, slots=True)
class Location:
    """Where the operator's tenant directory is, with every link resolved."""

    named: Path  # as the operator named it (for messages)
    tenants: Path  # the directory itself, resolved
    root: Path | None  # the top level of the git repository holding it; None outside git

    @property
    def git_dir(self) -> Path | None:
        # A linked worktree's or submodule's .git is a file that names the directory;
        # git follows it when it is given explicitly too.
        return None if self.root is None else self.root / ".git"


def locate(path: Path) -> Location:
    """The tenant directory ``path`` and the repository that holds it.

    The path is followed a component at a time as the system would, from the current
    directory's repository (or none). Once inside a repository, a symbolic link must not
    lead out of it (``LeavesRepository``): a pull request can commit ``tenants`` as a link
    to anywhere on the runner. Links above any repository (``/tmp`` on macOS) are the
    machine's and are followed."""
    path = Path(path)
    try:
        here = Path("/") if path.is_absolute() else Path(os.getcwd())
    except OSError as exc:
        raise WorkflowError(f"the current directory cannot be used: {exc.strerror}") from None
    root = _enclosing(here)
    named = Path(path.anchor)
    for part in path.parts[1:] if path.is_absolute() else path.parts:
        named /= part
        if part in ("", "."):
            continue
        if part == "..":
            here = here.parent
            root = _enclosing(here)
            continue
        step = here / part
        try:
            mode = os.lstat(step).st_mode
        except OSError:
            # Missing or unreadable: the loader says so; no repository is opened below.
            return Location(path, Path(os.path.realpath(path)), None)
        if stat.S_ISLNK(mode):
            target = Path(os.path.realpath(step))
            if root is not None and not target.is_relative_to(root):
                raise LeavesRepository(path, named)
            here = target
            root = _enclosing(here)
        else:
            here = step
            if os.path.lexists(here / ".git"):
                root = here
    return Location(path, here, root)


def _enclosing(directory: Path) -> Path | None:
    """The deepest directory at or above ``directory`` (resolved) that holds ``.git``.
    A bare-repository-shaped directory never counts: a pull request can commit one."""
    for candidate in (directory, *directory.parents):
        if os.path.lexists(candidate / ".git"):
            return candidate
    return None


def nested_repositories(location: Location) -> list[Path]:
    """Every repository-shaped thing in the tenant tree, as the operator would name it: a
    ``.git`` file or directory, or a directory git could take for a git directory (HEAD
    with objects and refs, or with a commondir). Links are not followed."""
    own = None if location.root is None else str(location.root / ".git")
    # Strings, not Paths: a tenant tree holds thousands of files, and this runs on every
    # plan that asks git (a scoped plan's time is not to grow with the repository's).
    found: list[str] = []
    pending = [str(location.tenants)]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as listing:
                entries = list(listing)
        except OSError:
            continue  # unreadable: nothing git could open there either
        # Any case: on a case-insensitive file system (macOS, Windows) git finds "head".
        names = {entry.name.lower() for entry in entries}
        if "head" in names and ({"objects", "refs"} <= names or "commondir" in names):
            found.append(directory)
            continue
        for entry in entries:
            if entry.name.lower() == ".git":
                if entry.path != own:
                    found.append(entry.path)
            elif entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)
    return sorted(location.named / Path(p).relative_to(location.tenants) for p in found)


def checked(location: Location) -> Path:
    """The repository's top level, once the tenant tree is known to hold no repository of
    its own; ``ConfigError`` naming the first one otherwise."""
    if location.root is None:
        raise WorkflowError(f"{location.named} is not inside a git repository")
    nested = nested_repositories(location)
    if nested:
        others = f" (and {len(nested) - 1} more)" if len(nested) > 1 else ""
        raise ConfigError(
            f"{_shown(str(nested[0]))}: is a git repository inside the tenant tree (a .git,"
            f" or HEAD with objects and refs){others}; expected only tenant files. Remove it:"
            " t4o-reconcile runs git only on the repository that holds the tenant directory"
        )
    return location.root


def _git(location: Location, *args: str, timeout: float = TIMEOUT) -> str:
    """The output of ``git args`` on the repository of ``location`` (checked); a
    ``WorkflowError`` naming the command when git fails."""
    done = _run(location, args, timeout)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        why = _shown(lines[-1]) if lines else f"exit status {done.returncode}"
        raise WorkflowError(f"git {args[0]} in {location.root}: {why}")
    return done.stdout


def _run(
    location: Location, args: tuple[str, ...], timeout: float
) -> subprocess.CompletedProcess[str]:
    """``git args`` run in the tenant directory (so that paths are relative to it), on a
    location already ``checked``; ``WorkflowError`` when git cannot be run at all."""
    import subprocess

    root = location.root
    command = ["git", f"--git-dir={location.git_dir}", f"--work-tree={root}", *_HARDENED, *args]
    try:
        return subprocess.run(
            command,
            cwd=location.tenants,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise WorkflowError(f"git {args[0]} cannot be run: {exc}") from None


def _environment() -> dict[str, str]:
    """The environment without GIT_* (an inherited GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE
    or GIT_CONFIG_* would point git elsewhere or configure it), without the system
    config, and never waiting on a prompt."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_ATTR_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_OPTIONAL_LOCKS="0",  # a read never rewrites the index
        GIT_NO_LAZY_FETCH="1",  # a partial clone never fetches from a reader's remote
    )
    return env


def resolve_commit(location: Location, ref: str) -> str:
    """The commit ``ref`` names in the repository of ``location`` (``checked``), checked
    to be a commit and never read as an option."""
    if not ref or ref.startswith("-") or not ref.isprintable():
        raise WorkflowError(
            f"--changed-since: {_shown(ref)} is not a git ref; expected a commit, branch or"
            " tag (e.g. origin/main)"
        )
    # --end-of-options and ^{commit}: whatever the ref says, git reads it as a name and
    # answers only with a commit.
    asked = ("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    done = _run(location, asked, TIMEOUT)
    commit = done.stdout.strip()
    if done.returncode != 0 or not _COMMIT_ID.fullmatch(commit):
        raise WorkflowError(
            f"--changed-since: {_shown(ref)} names no commit in {location.root}; expected a"
            " commit, branch or tag (e.g. origin/main, fetched)"
        )
    return commit


def head_commit(path: Path) -> str | None:
    """The commit checked out in the repository that holds the tenant directory ``path``;
    None outside git or before the first commit. A repository inside the tenant tree is a
    ``ConfigError``."""
    location = locate(path)
    if location.root is None:
        return None
    checked(location)
    try:
        done = _run(location, ("rev-parse", "--verify", "--quiet", "HEAD^{commit}"), 30)
    except WorkflowError:
        return None  # no git here: the plan records no commit, as outside git
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and _COMMIT_ID.fullmatch(commit) else None


@dataclass(frozen=True, slots=True)
class Changes:
    """What a change holds: the commit it is measured from and its files."""

    base: str  # the merge base of the ref and HEAD (the ref itself when it is an ancestor)
    head: str | None  # the commit checked out; None before the first commit
    # ``(status, name)``, names relative to the tenant directory; new untracked files "A".
    entries: tuple[tuple[str, str], ...]


def changes_since(path: Path, ref: str) -> Changes:
    """Every file under the tenant directory ``path`` that differs from the merge base of
    the commit ``ref`` names and HEAD (committed or not, new untracked files as ``A``),
    as a pull request's change is measured: what the base branch did after the branch
    left it is not the pull request's. Without a HEAD (no commit yet) the base is
    ``ref`` itself."""
    location = locate(path)
    if not location.tenants.is_dir():
        raise WorkflowError(f"--changed-since: {path} is not a directory of tenant files")
    if location.root is None:
        raise WorkflowError(f"--changed-since: {path} is not inside a git repository")
    checked(location)
    commit = resolve_commit(location, ref)
    base, head = _merge_base(location, commit, ref)
    diff = _git(
        location,
        "diff",
        "--no-ext-diff",
        "--no-textconv",
        "--ignore-submodules=all",
        "--relative",
        "--no-renames",
        "--name-status",
        "-z",
        base,
        "--",
        ".",
    )
    fields = diff.split("\0")
    entries = [(fields[i], fields[i + 1]) for i in range(0, len(fields) - 1, 2)]
    untracked = _git(location, "ls-files", "--others", "--exclude-standard", "-z", "--", ".")
    entries += [("A", name) for name in untracked.split("\0") if name]
    return Changes(base, head, tuple(entries))


def _merge_base(location: Location, commit: str, ref: str) -> tuple[str, str | None]:
    """The merge base of ``commit`` and HEAD, and HEAD; ``commit`` and None when there is
    no HEAD."""
    asked = _run(location, ("rev-parse", "--verify", "--quiet", "HEAD^{commit}"), TIMEOUT)
    head = asked.stdout.strip()
    if asked.returncode != 0 or not _COMMIT_ID.fullmatch(head):
        return commit, None
    done = _run(location, ("merge-base", commit, head), TIMEOUT)
    base = done.stdout.strip()
    if done.returncode != 0 or not _COMMIT_ID.fullmatch(base):
        raise WorkflowError(
            f"--changed-since: {_shown(ref)} and HEAD have no common ancestor in"
            f" {location.root}; expected the base branch the change was made from (fetched"
            " with enough history to reach the merge base)"
        )
    return base, head


def _shown(text: str) -> str:
    """``text`` with anything that is not printable shown as an escape: git's messages
    and refs can quote names a pull request chose."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
