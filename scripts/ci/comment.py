"""Posts the plan comment on a pull (or merge) request: one comment per part, sticky.

    python -I comment.py github --repo OWNER/REPO --pull N --dir DIR
        [--marker "<!-- t4o-reconcile:plan part="] [--bot github-actions[bot]]

DIR holds the parts `t4o-reconcile show --comment-dir DIR` wrote (part-001.md, …). The
comments this job made before (GET /repos/{o}/{r}/issues/{n}/comments: those by --bot, a
Bot account, whose body starts with --marker) are updated in the order of their part
number (PATCH /repos/{o}/{r}/issues/comments/{id}); parts beyond them are created
(POST /repos/{o}/{r}/issues/{n}/comments); comments left over from a bigger plan are
deleted (DELETE /repos/{o}/{r}/issues/comments/{id}). Anyone can post a comment that
starts with the marker: only the bot's own count. Reads GITHUB_TOKEN and GITHUB_API_URL.

    python -I comment.py gitlab --project ID --mr IID --dir DIR [--marker …]

The same with merge request notes (GET, POST /projects/:id/merge_requests/:iid/notes, PUT
and DELETE …/notes/:note_id), the token's own user (GET /user) being the bot. Reads
T4O_GITLAB_REPORT_TOKEN (a project access token, scope api) and CI_API_V4_URL.

Prints what it did in one line; an API that refuses is one line on stderr, exit 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from t4o_reconcile.forge.comments import (
    GITHUB_BOT,
    PLAN_MARKER,
    github_sync,
    gitlab_api,
    gitlab_bot_id,
    gitlab_sync,
    read_parts,
)
from t4o_reconcile.forge.rest import GitLab, Refused, fail, github_client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="comment.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="forge", required=True)
    github = sub.add_parser("github", help="the pull request's comments")
    github.add_argument("--repo", required=True, help="OWNER/REPO")
    github.add_argument("--pull", required=True, type=int)
    github.add_argument("--bot", default=GITHUB_BOT, help="the login the token posts as")
    gitlab = sub.add_parser("gitlab", help="the merge request's notes")
    gitlab.add_argument("--project", required=True, help="the project's ID (CI_PROJECT_ID)")
    gitlab.add_argument("--mr", required=True, type=int)
    for each in (github, gitlab):
        each.add_argument("--dir", required=True, type=Path, help="the comment parts")
        each.add_argument("--marker", default=PLAN_MARKER)
    args = parser.parse_args(argv)
    try:
        bodies = read_parts(args.dir)
        if any(not body.startswith(args.marker) for body in bodies):
            raise Refused(f"a part in {args.dir} does not start with {args.marker!r}")
        if args.forge == "github":
            said = github_sync(github_client(args.repo), args.pull, bodies, args.marker, args.bot)
        else:
            api, token = gitlab_api()
            client = GitLab(api, args.project, token)
            said = gitlab_sync(client, args.mr, bodies, args.marker, gitlab_bot_id(api, token))
    except OSError as exc:
        fail(f"cannot read {args.dir}: {exc.strerror}")
    except Refused as exc:
        fail(str(exc))
    print(said)
    return 0


if __name__ == "__main__":
    sys.exit(main())
