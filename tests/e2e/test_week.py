"""Issue 21's "Done when": a team's week, driven against a `serve` process with the kit's
own workflows and scripts (tests/e2e/week.py runs examples/ci/github/*.yml step by step,
scripts/ci/*.py with `python -I`, against the GitHub REST stand-in).

Monday two pull requests from the same base are reviewed and merged one after the other,
with invoices and a colleague's live edit in between; the nightly drift run finds the edit.
Tuesday a pull request removes a user: the check fails until a reviewer adds the label,
then the merge applies. Wednesday a merge fails half-way (the API refuses one tenant) and
a manual run of the apply workflow brings live to main. Thursday a tenant file is removed
and the operator keeps that tenant outside Git. At the end live equals main and no run was
stuck.

Each step is a subtest: one that fails is reported and the week goes on, so one run shows
every step that does not yet behave as issue 21 asks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ci.forge_standin import serve
from tests.e2e.conftest import Server, cli
from tests.e2e.helpers import edit_tenant, get
from tests.e2e.week import APPROVAL_LABEL, ORGANISATION_NUMBERS, Week, stuck_runs
from tests.e2e.week_forge import WeekForge

pytestmark = pytest.mark.e2e

CLUBS = 30
# Who is who: the authors and reviewers have write access, the operator is an admin.
PEOPLE = {"ana": "write", "bo": "write", "eva": "admin", "gjest": "read"}
NEW_NUMBER = ORGANISATION_NUMBERS[CLUBS + 5]  # a number no club of ours has yet


@pytest.fixture
def week(server: Server, tmp_path: Path) -> Iterator[Week]:
    with serve(WeekForge(permissions=dict(PEOPLE))) as forge:
        started = Week(server, forge, tmp_path, CLUBS, server.token, server.read_only_token())
        started.start()
        yield started


def tenant(week: Week, slug: str) -> dict[str, Any]:
    with week.server.client() as client:
        answer = get(client, f"/v1/tenants/{slug}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def users(week: Week, slug: str) -> list[str]:
    with week.server.client() as client:
        answer = get(client, f"/v1/tenants/{slug}/users", limit=100)
    return sorted(u["email"] for u in answer.json()["items"])


def counter(week: Week, slug: str) -> int:
    with week.server.client() as client:
        return int(get(client, f"/v1/tenants/{slug}/invoicing").json()["next_invoice_number"])


def header(plan: Path) -> dict[str, Any]:
    import json

    first: dict[str, Any] = json.loads(plan.read_text().splitlines()[0])
    return first


def test_a_week_of_pull_requests_merges_a_failure_and_drift(week: Week, subtests: Any) -> None:
    # --- Monday: two pull requests from the same base --------------------------------------
    invoiced = week.issue_invoices("klubb-003", 2)  # the morning's invoices
    assert invoiced == 1030 + 2
    phone = "+47 91 23 45 67"
    first = week.open_pull(
        "klubb-003-telefon",
        "ana",
        lambda t: edit_tenant(t, "klubb-003", lambda d: d["contact"].update(phone=phone)),
        "New phone for klubb-003",
    )
    second = week.open_pull(
        "klubb-007-lisenser",
        "bo",
        lambda t: edit_tenant(t, "klubb-007", lambda d: d["billing"].update(licenses=40)),
        "More licences for klubb-007",
    )
    assert first.base_sha == second.base_sha

    with subtests.test("1. both pull-request checks pass"):
        for pull in (first, second):
            assert pull.check.conclusion == "success", pull.check.log
            assert pull.check.statuses("plan") in ([0], [2]), pull.check.log  # 2: changes

    with subtests.test("1. a pull-request plan covers what the pull request changes (21.1)"):
        for pull, slug in ((first, "klubb-003"), (second, "klubb-007")):
            artifact = week.actions.artifact_path(pull.check, f"t4o-plan-{pull.check.head_sha}")
            assert week.planned_slugs(artifact / "tenants.plan") == {slug}, pull.check.log

    with subtests.test("1. the comment leads with the change (21.5)"):
        comment = week.comment(first)
        assert phone in comment, comment
        first_screen = "\n".join(comment.splitlines()[:25])
        assert "klubb-003" in first_screen, comment
        assert "klubb-011" not in comment, comment  # an untouched tenant is not listed
        assert "--allow-deletes" not in comment, comment

    # Between its review and its merge the club invoices again: a counter moves inside the
    # pull request's own scope, and the merge still does exactly what the review showed.
    invoiced = week.issue_invoices("klubb-003", 1)
    assert invoiced == 1030 + 3

    merged_first = week.merge(first, "bo")

    with subtests.test("2. the first merge applies exactly the reviewed change"):
        assert merged_first.conclusion == "success", merged_first.log
        assert tenant(week, "klubb-003")["contact"]["phone"] == phone.replace(" ", "")
        assert counter(week, "klubb-003") == invoiced  # invoices are not drift

    with subtests.test("2. the merge's outcome comes back to the pull request (21.6)"):
        sha = week.main_sha()
        comments = week.comment(first)
        assert "applied" in comments.lower() and sha[:7] in comments, comments
        assert [s["state"] for s in week.forge.statuses.get(sha, [])][:1] == ["success"], (
            week.forge.statuses
        )

    # Between the second pull request's review and its merge, a colleague fixes something
    # in the web UI and another club invoices: both unrelated to the pull request.
    week.live_edit("klubb-020", name="Klubb 20 (rettet i nettleseren)")
    week.issue_invoices("klubb-011", 1)

    merged_second = week.merge(second, "ana")

    with subtests.test("3. the second merge (not up to date) is blind outside its scope (21.1)"):
        assert merged_second.conclusion == "success", merged_second.log
        assert tenant(week, "klubb-007")["billing"]["licenses"] == 40
        assert tenant(week, "klubb-020")["name"] == "Klubb 20 (rettet i nettleseren)"
        report = week.actions.artifact_path(merged_second, f"t4o-apply-{week.main_sha()}")
        assert week.changed_slugs(report / "merged.plan") == {"klubb-007"}, merged_second.log

    night = week.nightly_drift()

    with subtests.test("4. the nightly drift run finds the live edit (exit 2)"):
        assert night.conclusion == "failure", night.log
        assert night.statuses("plan") == [2], night.log
        assert "klubb-020" in night.summary, night.summary

    # --- Tuesday: an unapproved delete -------------------------------------------------------
    third = week.open_pull(
        "klubb-005-medlem-ut",
        "ana",
        lambda t: edit_tenant(t, "klubb-005", lambda d: d["users"].pop()),
        "klubb-005: the member leaves",
    )

    with subtests.test("5. a delete that needs approval fails the check (21.3, exit 3)"):
        assert third.check.conclusion == "failure", third.check.log
        assert third.check.statuses("plan") == [3], third.check.log
        assert f"`{APPROVAL_LABEL}`" in week.comment(third), week.comment(third)

    # The author's own label approves nothing: only another person with write access.
    week.add_label(third, APPROVAL_LABEL, "ana")

    with subtests.test("5. the author's own label does not approve (21.3)"):
        assert third.check.conclusion == "failure", third.check.log
        assert third.check.statuses("plan") == [3], third.check.log

    week.remove_label(third, APPROVAL_LABEL, "ana")
    week.add_label(third, APPROVAL_LABEL, "bo")

    with subtests.test("5. the reviewer's label runs the check again, and it passes"):
        assert third.check.conclusion == "success", third.check.log
        assert third.check.statuses("plan") in ([0], [2]), third.check.log

    with subtests.test("5. the comment shows who approved (21.3)"):
        comment = week.comment(third)
        assert re.search(r"\bbo\b", comment), comment

    merged_third = week.merge(third, "bo")

    with subtests.test("5. the approved delete is applied at the merge"):
        assert merged_third.conclusion == "success", merged_third.log
        assert users(week, "klubb-005") == ["kasserer@klubb-005.no", "leder@klubb-005.no"]

    # --- Wednesday: a merge fails half-way, and the run that recovers it --------------------
    week.issue_invoices("klubb-013", 1)

    def two_clubs(tenants: Path) -> None:
        edit_tenant(tenants, "klubb-012", lambda d: d.update(organization_number=NEW_NUMBER))
        edit_tenant(tenants, "klubb-013", lambda d: d.update(name="Klubb 13 IL"))

    fourth = week.open_pull(
        "nye-orgnr", "bo", two_clubs, "New organisation number for klubb-012, name for klubb-013"
    )
    with subtests.test("6. the check of the pull request that will fail passes"):
        assert fourth.check.conclusion == "success", fourth.check.log
    # Between review and merge another partner registers that number: the API will refuse
    # klubb-012's write, and only that.
    week.other_partner_holds(NEW_NUMBER)

    broken = week.merge(fourth, "ana")

    with subtests.test("6. the merge's apply fails half-way"):
        assert broken.conclusion == "failure", broken.log
        assert broken.statuses("apply") == [1], broken.log
        assert tenant(week, "klubb-013")["name"] == "Klubb 13 IL"  # applied
        assert tenant(week, "klubb-012")["organization_number"] != NEW_NUMBER  # refused

    with subtests.test("6. the failure and the way back come back to the pull request (21.6)"):
        sha = week.main_sha()
        comments = week.comment(fourth).lower()
        assert "failed" in comments and "klubb-012" in comments, comments
        assert [s["state"] for s in week.forge.statuses.get(sha, [])][:1] in (
            ["failure"],
            ["error"],
        )

    week.other_partner_releases(NEW_NUMBER)
    recovery = None
    with subtests.test("6. a manual run of the apply workflow brings live to main (21.2)"):
        recovery = week.recovery_run("eva")
        assert recovery.conclusion == "success", recovery.log
        assert "klubb-012" in recovery.summary, recovery.summary
        assert tenant(week, "klubb-012")["organization_number"] == NEW_NUMBER

    with subtests.test("6. the documented CLI recovery converges from where the week is"):
        # docs/recovery.md: plan main into a file, apply exactly that file.
        saved = week.work / "recovery.plan"
        planned = cli("plan", week.tenants, "--out", saved, env=week.env())
        assert planned.returncode == 0, planned.stdout + planned.stderr
        applied = cli("apply", week.tenants, "--plan", saved, env=week.env())
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert tenant(week, "klubb-012")["organization_number"] == NEW_NUMBER
        assert counter(week, "klubb-013") == 1130 + 1  # the counter kept its invoice

    # --- Thursday: a tenant file is removed -------------------------------------------------
    fifth = week.open_pull(
        "klubb-029-ut",
        "ana",
        lambda t: (t / "klubb-029.yaml").unlink(),
        "klubb-029 is no longer ours to manage",
    )

    with subtests.test("7. the plan says the removed file's tenant leaves management (21.4)"):
        assert fifth.check.conclusion == "success", fifth.check.log
        artifact = week.actions.artifact_path(fifth.check, f"t4o-plan-{fifth.check.head_sha}")
        assert header(artifact / "tenants.plan").get("leaving_management") == ["klubb-029"]
        assert "klubb-029" in week.comment(fifth), week.comment(fifth)

    merged_fifth = week.merge(fifth, "bo")

    with subtests.test("7. the merge leaves the tenant live, unmanaged"):
        assert merged_fifth.conclusion == "success", merged_fifth.log
        assert tenant(week, "klubb-029")["name"] == "Klubb 29"

    unmanaged = week.nightly_drift()

    with subtests.test("8. the nightly drift run: a live tenant without a file is exit 4"):
        assert unmanaged.conclusion == "failure", unmanaged.log
        assert unmanaged.statuses("plan") == [4], unmanaged.log
        assert "klubb-029" in unmanaged.summary, unmanaged.summary

    # The operator keeps klubb-029 outside Git on purpose: its list is the operator's (a CI
    # variable), never a file of the repository.
    week.keep_outside_git("klubb-029")
    quiet = week.nightly_drift()

    with subtests.test("8. the nightly drift run is quiet about a tenant kept outside Git"):
        assert quiet.conclusion == "success", quiet.log
        assert quiet.statuses("plan") == [0], quiet.log

    # --- The end of the week -----------------------------------------------------------------
    with subtests.test("9. live equals main: a full plan shows no changes"):
        final = week.full_plan()
        assert final.returncode == 0, final.stdout + final.stderr
        assert counter(week, "klubb-003") == invoiced
        assert counter(week, "klubb-011") == 1110 + 1

    with subtests.test("9. no run was stuck"):
        assert week.actions.runs and stuck_runs(week) == []
