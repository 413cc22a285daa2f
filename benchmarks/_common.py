"""Shared by plan_scale.py and apply_scale.py: generated tenants, a sandbox process, the
provider they talk to, and the request count.

Not a benchmark itself. Importing it puts the repository root on ``sys.path`` so that the
scripts run as ``python benchmarks/plan_scale.py`` without an installed package.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from stdnum.no import kontonr, orgnr  # noqa: E402

from t4o_reconcile.api.http_provider import HttpProvider  # noqa: E402
from t4o_reconcile.api.target import Target  # noqa: E402

PARTNER = "bench"
USERS = 25
BANK_ACCOUNTS = 6
CONNECTORS = ("eventor-norway", "eventor-sweden")
TEMPLATES = tuple((kind, language) for kind in ("invoice", "order") for language in ("nb", "en"))
# identity, defaults, billing, agreement, invoicing, email_account + the lists.
ITEMS_PER_TENANT = 6 + USERS + BANK_ACCOUNTS + len(CONNECTORS) + len(TEMPLATES)


def secrets(count: int) -> dict[str, str]:
    """What the secret references in ``count`` generated files resolve to: the partner's
    one SMTP password, which the operator shares with every club (``T4O_SHARED_SECRETS``),
    and each club's own Eventor key, named as its own (a key shared by two clubs is a
    warning, as the manuals ask, and 2,000 of them would be a benchmark of warnings)."""
    keys = {eventor_variable(n): f"bench-eventor-token-{n:05d}" for n in range(count)}
    return {
        "T4O_SECRET_BENCH_SMTP_PASSWORD": "bench-smtp",
        "T4O_SHARED_SECRETS": "T4O_SECRET_BENCH_SMTP_PASSWORD",
        **keys,
    }


def eventor_variable(n: int) -> str:
    """A club's own variable: it starts with the club's part (``club-00007``: CLUB_00007)."""
    return f"T4O_SECRET_CLUB_{n:05d}_EVENTOR"


def _complete(prefix: str, valid: Callable[[str], bool]) -> str | None:
    """The prefix with the one check digit that makes it valid, if any."""
    for digit in "0123456789":
        if valid(prefix + digit):
            return prefix + digit
    return None


def valid_numbers(valid: Callable[[str], bool], width: int, start: int, count: int) -> list[str]:
    found: list[str] = []
    n = start
    while len(found) < count:
        number = _complete(f"{n:0{width}d}", valid)
        if number is not None:
            found.append(number)
        n += 1
    return found


def slug_of(n: int) -> str:
    return f"club-{n:05d}"


def tenant_yaml(slug: str, n: int, org: str, accounts: list[str]) -> str:
    """One tenant file of ITEMS_PER_TENANT items, the way a partner would write it."""
    users = "".join(
        f"  - email: {'owner' if u == 0 else f'user{u}'}@{slug}.no\n"
        f"    name: User {u}\n"
        f"    role: {'owner' if u == 0 else ('admin' if u < 3 else 'member')}\n"
        f"    programs: {{invoicing: user, events: {'admin' if u % 2 else 'user'}}}\n"
        + ("    custom_invoice_email: true\n" if u == 0 else "")
        for u in range(USERS)
    )
    banks = "".join(
        f"  - account_number: '{number}'\n"
        f"    invoice_account: {str(i == 0).lower()}\n"
        f"    default_for_payments: {str(i == 1).lower()}\n"
        for i, number in enumerate(accounts)
    )
    connections = "".join(
        f"  - connector: {connector}\n    token: {{secret: 'env:{eventor_variable(n)}'}}\n"
        for connector in CONNECTORS
    )
    templates = "".join(
        f"  - kind: {kind}\n    language: {language}\n    name: {kind} {language}\n"
        f"    subject: 'Faktura {{Number}} fra {{Supplier.Name}}'\n"
        f"    body: |\n      Hei {{Customer.Name}},\n      forfall {{DueDate}}.\n"
        for kind, language in TEMPLATES
    )
    return (
        "# yaml-language-server: $schema=../schemas/tenant.schema.json\n"
        f"slug: {slug}\nname: Club {n}\norganization_number: '{org}'\n"
        f"contact:\n  email: post@{slug}.no\n  phone: '+47 22 33 44 55'\n"
        "address:\n  street: Skogveien 1\n  postal_code: '0763'\n  city: Oslo\n  country: NO\n"
        "defaults:\n  timing_system: emit\n"
        f"billing:\n  licenses: {USERS + n % 40}\n  interval: monthly\n"
        f"agreement: {'Region A' if n % 2 else 'Region B'}\n"
        f"connections:\n{connections}"
        f"invoicing:\n  next_invoice_number: {1000 + n}\n  pdf_template: compact\n"
        "email_account:\n  account_name: Faktura\n  display_name: Faktura\n"
        f"  address: faktura@{slug}.no\n  username: faktura\n"
        "  password: {secret: 'env:T4O_SECRET_BENCH_SMTP_PASSWORD'}\n"
        "  smtp_host: smtp.example.no\n  smtp_port: 587\n  encryption: starttls\n"
        f"bank_accounts:\n{banks}users:\n{users}email_templates:\n{templates}"
    )


def generate(root: Path, count: int) -> None:
    """``count`` tenant files plus _defaults.yaml and _agreements.yaml in ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    orgs = valid_numbers(orgnr.is_valid, 8, 91000000, count)
    accounts = valid_numbers(kontonr.is_valid, 10, 1503000000, count * BANK_ACCOUNTS)
    (root / "_agreements.yaml").write_text(
        "agreements:\n"
        "  - {name: Region A, customer_number: '1001'}\n"
        "  - {name: Region B, customer_number: '1002'}\n"
    )
    (root / "_defaults.yaml").write_text("billing:\n  invoice_recipient: partner\n")
    for n in range(count):
        slug = slug_of(n)
        mine = accounts[n * BANK_ACCOUNTS : (n + 1) * BANK_ACCOUNTS]
        (root / f"{slug}.yaml").write_text(tenant_yaml(slug, n, orgs[n], mine))


def set_secrets(count: int) -> None:
    """The loader resolves ``env:`` references from the process environment."""
    os.environ.update(secrets(count))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def create_token(db: Path) -> str:
    from t4o_reconcile.sandbox.store import Store

    store = Store(db)
    try:
        token: str = store.create_token(partner=PARTNER)
        return token
    finally:
        store.close()


@dataclass(frozen=True, slots=True)
class Sandbox:
    url: str
    token: str
    latency_ms: int
    pid: int = 0  # the serve process

    def cpu_seconds(self) -> float:
        """CPU time the serve process has used so far (user + system), from /proc."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def target(self) -> Target:
        return Target(url=self.url, token=self.token)

    def provider(self, parallelism: int) -> HttpProvider:
        return HttpProvider.from_target(self.target().for_provider(parallelism))


@contextmanager
def sandbox(
    db: Path, *, latency_ms: int, token: str | None = None, extra_args: tuple[str, ...] = ()
) -> Iterator[Sandbox]:
    """A ``t4o-reconcile serve`` process over ``db`` on a free loopback port, stopped on
    exit. Its output goes to ``db``'s folder (serve.log), so a failure can be read."""
    token = token or create_token(db)
    port = free_port()
    log = (db.parent / "serve.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "t4o_reconcile",
            "serve",
            "--db",
            str(db),
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
            *extra_args,
        ],
        stdout=log,
        stderr=log,
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("T4O_")},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the sandbox exited with {process.returncode}; see serve.log")
            try:
                httpx.get(f"{url}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit("the sandbox did not start within 30 s") from None
                time.sleep(0.1)
        yield Sandbox(url, token, latency_ms, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def ratio(measured: float, target: float) -> str:
    """``0.84`` reads as "meets the target with 16 % to spare"; above 1.00 misses it."""
    return f"{measured / target:.2f}" if target > 0 else "n/a"


@dataclass(frozen=True, slots=True)
class Run:
    """One command run as its own process: wall seconds, peak resident set, exit code, the
    end of what it wrote to stderr, and the CPU time it used (user + system).

    CPU and memory count the processes it starts too (a plan of many tenants loads its
    files in a child, forked by a fork server, and a cold load parses in workers): on
    Linux this process becomes their subreaper, so that they are reaped here once the
    command has exited, each with its ``wait4`` figures (``processes`` says how many there
    were). ``peak_mb`` is the most memory the whole tree held at once: its processes'
    proportional set sizes summed, sampled from /proc every 20 ms while the command runs,
    and never below the largest single process's own peak resident set from the kernel
    (which alone is the figure of a run of one process, as before)."""

    seconds: float
    peak_mb: float
    exit_code: int
    errors: str
    cpu: float = 0.0
    processes: int = 1
    # Every process's own peak resident set, summed (pages the fork server shares with
    # the child it forked count in both).
    peaks_summed_mb: float = 0.0


# prctl(2): orphans of descendants are reparented to this process, not to init.
_PR_SET_CHILD_SUBREAPER = 36


def _subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    done: int = ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    return done == 0


def _parents() -> dict[int, int]:
    """Each process's parent (from /proc)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The fields after the command name (in parentheses, which may hold spaces).
        parent[int(entry)] = int(stat.rpartition(")")[2].split()[1])
    return parent


def _children() -> set[int]:
    """The processes whose parent is this one."""
    mine = os.getpid()
    return {pid for pid, up in _parents().items() if up == mine}


def _tree_kb(root: int) -> int:
    """The proportional set size (Pss: a page shared by n processes counts 1/n in each)
    of ``root`` and every process under it, now (from /proc): a child forked from the
    fork server shares its pages, which counting each one's resident set would count
    twice."""
    parent = _parents()
    total, tree = 0, {root}
    while tree:
        pid = tree.pop()
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            rollup = ""
        total += next(
            (int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0
        )
        tree.update(child for child, up in parent.items() if up == pid)
    return total


def _sampled(pid: int, stop: threading.Event, peak: list[int]) -> None:
    while not stop.wait(0.02):
        peak[0] = max(peak[0], _tree_kb(pid))


def run_process(command: list[str], env: dict[str, str], cwd: Path | None = None) -> Run:
    """Run ``command`` with its output thrown away and its CPU time and peak memory read
    from the kernel, its other processes' included (see ``Run``). Used for every CLI step
    the benchmarks time (memory_scale, no_change_plan)."""
    reaping = _subreaper()
    before = _children() if reaping else set()
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    stop, tree_peak = threading.Event(), [0]
    sampler = threading.Thread(target=_sampled, args=(process.pid, stop, tree_peak))
    if reaping:
        sampler.start()
    # Read stderr first so a chatty child never blocks on a full pipe; then reap it.
    errors = process.stderr.read()
    stop.set()
    if reaping:
        sampler.join()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu, peaks = usage.ru_utime + usage.ru_stime, [usage.ru_maxrss]
    # What it left running (a fork server ends once its parent has): each reaped here,
    # with the processes it reaped itself.
    deadline = time.monotonic() + 30
    while reaping and (left := _children() - before) and time.monotonic() < deadline:
        for pid in left:
            try:
                _, _, usage = os.wait4(pid, 0)
            except ChildProcessError:
                continue
            cpu += usage.ru_utime + usage.ru_stime
            peaks.append(usage.ru_maxrss)
    return Run(
        seconds,
        max(tree_peak[0], *peaks) / 1024,
        process.returncode,
        errors.decode()[-2000:],
        cpu,
        len(peaks),
        sum(peaks) / 1024,
    )


def run_cli(args: list[str], env: dict[str, str], cwd: Path | None = None) -> Run:
    """``t4o-reconcile ARGS`` (this checkout's, through ``PYTHONPATH``) as its own process."""
    return run_process([sys.executable, "-m", "t4o_reconcile", *args], env, cwd)


def embedded_env(workdir: Path, count: int) -> dict[str, str]:
    """The environment of a CLI run against the embedded sandbox in ``workdir``: this
    machine's, without the operator's T4O_ settings, with the generated files' secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("T4O_") and k != "CI"}
    env.update(secrets(count))
    env["T4O_SANDBOX_DB"] = str(workdir / "sandbox.db")
    env["PYTHONPATH"] = str(REPO)
    return env


def seeded_sandbox(workdir: Path, count: int) -> tuple[Path, dict[str, str]]:
    """``count`` generated tenant files in ``workdir/tenants`` and an embedded sandbox
    (``workdir/sandbox.db``) that holds exactly what ``apply`` makes of them: the state a
    no-change plan starts from. Seeding is the real CLI's ``apply --auto-approve`` (not
    timed); a ``workdir`` seeded before for the same count is used as it is (``seeded``
    marks it), since seeding 10,000 tenants takes minutes."""
    root = workdir / "tenants"
    env = embedded_env(workdir, count)
    marker = workdir / "seeded"
    if marker.exists() and marker.read_text() == str(count):
        return root, env
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in (workdir / "sandbox.db", marker):
        stale.unlink(missing_ok=True)
    # In a child: the kernel counts the parent's resident set into a child's peak
    # (wait4's ru_maxrss survives the vfork + exec that starts each step), so the parent
    # stays as small as it can.
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        pool.apply(generate, (root, count))
    started = time.perf_counter()
    seeding = run_cli(["apply", str(root), "--auto-approve"], {**env, "T4O_CACHE": "off"}, workdir)
    if seeding.exit_code != 0:
        raise SystemExit(f"seeding through apply failed ({seeding.exit_code}):\n{seeding.errors}")
    print(
        f"seeded {count} tenants x {ITEMS_PER_TENANT} items through apply in"
        f" {time.perf_counter() - started:.0f} s (not timed below)",
        flush=True,
    )
    marker.write_text(str(count))
    return root, env
