"""The web front under load: Mijn werk, Zoeken and the case page with many cases stored.

Imports N cases (100,000 by default) into Kansen in Kaart, plans a wave for one wijk so a case
worker has work, gives that case worker a password, starts `casework serve` (waitress) on a free
loopback port and lets U simulated users (20 by default) each log in and then, in turn, open
their work list, search (a name, a postcode and house number, a BSN, in turn) and open a case
of their wijk. A user waits --think seconds on average between two requests (0: none, each
user asks again as soon as it has its answer; otherwise uniformly 0.5x to 1.5x, seeded).

Users log in one after the other before the clock starts (an argon2 hash each). Bounded: no
request starts after --requests requests or --seconds seconds, whichever comes
first, and each waits at most --timeout seconds. A timeout, a refused connection or an HTTP
error counts as an error of its page (reported; the user goes on). Prints the 50th and 95th
percentile and the slowest answer per page, the throughput, the errors, the server's CPU time
per request (user + system, Linux) and the load average before and after.

`--profile` instead asks each page in-process (Flask's test client, no server): CPU ms per
request and the SQL statements each runs, optionally with cProfile (`--profile-out F`).

Usage: python bench/bench_web.py [--cases N] [--users U] [--think S] [--requests R]
                                  [--seconds S] [--timeout S] [--threads T]
                                  [--database-url URL] [--profile [--profile-out F]]
                                  [--then-think S ...]
"""

from __future__ import annotations

import argparse
import csv
import http.client
import http.cookiejar
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from common import Scratch, machine, make_cohort

PASSWORD = "een lang wachtwoord voor de bench"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = ("mijn werk", "zoeken", "zaak")
# What a failed request can raise besides an HTTP error status.
FAILURES = (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError)


@dataclass
class Setup:
    scratch: Scratch
    case_ids: list[int]
    queries: list[str]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_json(scratch: Scratch, *args: str) -> Any:
    out = subprocess.run([sys.executable, "-m", "casework", *args, "--json"], env=scratch.env,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def prepare(cases: int, database_url: str | None) -> Setup:
    """A scratch installation with the cases, a wave planned in one wijk, a case worker
    'werker' of that wijk with a password; the worker's cases and search texts."""
    scratch = Scratch(database_url, extra='[rules]\ndisabled = ["exclusion"]\n')
    scratch.run("init")
    cohort = make_cohort(scratch.dir / "c.csv", cases)
    scratch.run("cohort", "import", str(cohort), "--workflow", "kansen-in-kaart")
    with cohort.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    wijk = rows[0]["wijk"]
    people = [r for r in rows if r["wijk"] == wijk][:500]
    scratch.run("staff", "add", "werker", "--role", "case_worker", "--wijk", wijk)
    start = (date.today() + timedelta(days=7)).isoformat()
    scratch.run("cohort", "plan", "--workflow", "kansen-in-kaart", "--wijk", wijk,
                "--size", "100", "--from", start, "--specialists", "2")
    subprocess.run([sys.executable, "-m", "casework", "staff", "set-password", "werker",
                    "--password-stdin"], env=scratch.env, input=PASSWORD + "\n", text=True,
                   check=True, stdout=subprocess.DEVNULL)
    if database_url:
        # Statistics as autovacuum makes them soon after a bulk import; right after it the
        # planner would still take the tables for empty.
        from sqlalchemy import create_engine, text

        server = create_engine(scratch.url)
        with server.begin() as conn:
            conn.execute(text("ANALYZE participants, cases, tasks, events, appointments, "
                              "consents, referrals, letters, access_log, staff"))
        server.dispose()
    listed = cli_json(scratch, "case", "list", "--workflow", "kansen-in-kaart", "--wijk", wijk,
                      "--limit", "500")
    queries = []
    for person in people[:200]:
        queries += [person["surname"],
                    f"{person['postcode']} {person['house_number']}", person["bsn"]]
    return Setup(scratch, [c["id"] for c in listed["cases"]], queries)


class User:
    """One browser: its own cookies, logged in as the case worker."""

    def __init__(self, base: str, timeout: float) -> None:
        self.base = base
        self.timeout = timeout
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def ask(self, path: str, fields: dict[str, str] | None = None) -> str:
        """Return the page; urllib's errors (an HTTP error status too) pass on. A page that
        sent the user back to the login page is an error as well."""
        body = urllib.parse.urlencode(fields).encode("ascii") if fields is not None else None
        with self.opener.open(self.base + path, body, timeout=self.timeout) as answer:
            text = str(answer.read().decode("utf-8"))
            if answer.geturl().endswith("/inloggen") and not path.endswith("/inloggen"):
                raise urllib.error.URLError("logged out")
            return text

    def login(self, name: str) -> str:
        """Log in; return the CSRF token of the search form."""
        self.ask("/inloggen", {"csrf_token": token(self.ask("/inloggen")), "name": name,
                               "password": PASSWORD})
        return token(self.ask("/zoeken"))


def token(page: str) -> str:
    found = TOKEN.search(page)
    if not found:
        raise urllib.error.URLError("no CSRF token on the page")
    return found.group(1)


def describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    if isinstance(error, urllib.error.URLError):
        reason = error.reason
        return reason if isinstance(reason, str) else type(reason).__name__
    return type(error).__name__


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux: /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    try:
        return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    except OSError:
        return "load average unknown"


def percentile(spent: list[float], fraction: float) -> float:
    return spent[min(len(spent) - 1, int(len(spent) * fraction))]


def run_load(args: argparse.Namespace, setup: Setup) -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "casework", "serve", "--port", str(port),
                               "--threads", str(args.threads)], env=setup.scratch.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    timings: dict[str, list[float]] = {page: [] for page in PAGES}
    errors: dict[str, dict[str, int]] = {page: {} for page in (*PAGES, "inloggen")}
    lock = threading.Lock()
    started = [0]

    def failed(page: str, error: BaseException) -> None:
        with lock:
            kinds = errors[page]
            kinds[describe(error)] = kinds.get(describe(error), 0) + 1

    def user(number: int, browser: User, search_token: str) -> None:
        chance = random.Random(number)
        turn = number
        while True:
            turn += 1
            query = {"csrf_token": search_token, "q": setup.queries[turn % len(setup.queries)]}
            case_page = f"/zaak/{setup.case_ids[turn % len(setup.case_ids)]}"
            for page, path, fields in (("mijn werk", "/", None), ("zoeken", "/zoeken", query),
                                       ("zaak", case_page, None)):
                if args.think:
                    time.sleep(args.think * chance.uniform(0.5, 1.5))
                with lock:
                    if started[0] >= args.requests or time.perf_counter() > deadline:
                        return
                    started[0] += 1
                began = time.perf_counter()
                try:
                    browser.ask(path, fields)
                except FAILURES as error:
                    failed(page, error)
                    continue
                spent = time.perf_counter() - began
                with lock:
                    timings[page].append(spent)

    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit("casework serve stopped; see its output") from None
                time.sleep(0.1)
        # Logging in (an argon2 hash each, on purpose slow) comes before the clock starts.
        users = []
        for number in range(args.users):
            browser = User(base, args.timeout)
            try:
                users.append((number, browser, browser.login("werker")))
            except FAILURES as error:
                failed("inloggen", error)
        load_before = load()
        cpu_before = cpu_seconds(server.pid)
        began = time.perf_counter()
        deadline = began + args.seconds
        threads = [threading.Thread(target=user, args=one) for one in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        cpu_after = cpu_seconds(server.pid)
        load_after = load()
    finally:
        server.terminate()
        server.wait(10)
    total = sum(len(t) for t in timings.values())
    failures = sum(n for kinds in errors.values() for n in kinds.values())
    backend = "PostgreSQL" if args.database_url else "SQLite"
    think = f"think time {args.think:g} s (0.5x-1.5x)" if args.think else "no think time"
    print(f"{args.cases} cases stored ({backend}), {args.users} users, {think}, "
          f"casework serve --threads {args.threads}")
    print(f"  {total} answers and {failures} errors in {wall:.1f} s ({total / wall:.1f}/s), "
          f"{load_before} before, {load_after} after")
    if cpu_before is not None and cpu_after is not None and total:
        print(f"  server CPU {cpu_after - cpu_before:.1f} s, "
              f"{(cpu_after - cpu_before) / (total + failures) * 1000:.1f} ms a request")
    for page, spent in timings.items():
        spent.sort()
        if spent:
            print(f"  {page:10} {len(spent):6} answers: p50 {percentile(spent, 0.5) * 1000:6.1f}"
                  f" ms, p95 {percentile(spent, 0.95) * 1000:6.1f} ms (target < 100 ms), "
                  f"slowest {spent[-1] * 1000:6.1f} ms")
    for page, kinds in errors.items():
        if kinds:
            print(f"  {page:10} errors: " + ", ".join(f"{n} {kind}" for kind, n in kinds.items()))


def run_profile(args: argparse.Namespace, setup: Setup) -> None:
    """Each page in-process (Flask's test client): CPU ms a request and SQL statements."""
    import cProfile
    import pstats

    from sqlalchemy import event

    os.environ.update(setup.scratch.env)
    from casework.config import load_settings
    from casework.web import create_app, engine_of

    app = create_app(load_settings())
    statements: list[str] = []
    event.listen(engine_of(app).db, "before_cursor_execute",
                 lambda conn, cursor, sql, *rest: statements.append(sql))
    client = app.test_client()
    client.post("/inloggen", data={"csrf_token": token(client.get("/inloggen").text),
                                   "name": "werker", "password": PASSWORD})
    search_token = token(client.get("/zoeken").text)
    queries = setup.queries
    asks = {
        "mijn werk": lambda i: client.get("/"),
        "zoeken (naam)": lambda i: client.post(
            "/zoeken", data={"csrf_token": search_token, "q": queries[3 * i]}),
        # A name nobody in the cohort has: what a search costs beyond its matches.
        "zoeken (onbekend)": lambda i: client.post(
            "/zoeken", data={"csrf_token": search_token, "q": f"Qwyxzaar{i}"}),
        "zoeken (postcode)": lambda i: client.post(
            "/zoeken", data={"csrf_token": search_token, "q": queries[3 * i + 1]}),
        "zoeken (BSN)": lambda i: client.post(
            "/zoeken", data={"csrf_token": search_token, "q": queries[3 * i + 2]}),
        "zaak": lambda i: client.get(f"/zaak/{setup.case_ids[i % len(setup.case_ids)]}"),
    }
    profiler = cProfile.Profile() if args.profile_out else None
    print(f"{args.cases} cases stored ({'PostgreSQL' if args.database_url else 'SQLite'}), "
          f"in-process, {load()}")
    for page, ask in asks.items():
        if ask(0).status_code != 200:
            raise SystemExit(f"{page}: answered {ask(0).status_code}")
        statements.clear()
        ask(1)
        count = len(statements)
        rounds = 30
        began_cpu, began = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        for i in range(2, 2 + rounds):
            ask(i % 60)
        if profiler:
            profiler.disable()
        cpu = (time.process_time() - began_cpu) / rounds * 1000
        wall = (time.perf_counter() - began) / rounds * 1000
        print(f"  {page:18} {count:3} SQL statements, {cpu:6.1f} ms CPU, {wall:6.1f} ms wall")
    if profiler:
        profiler.dump_stats(args.profile_out)
        pstats.Stats(args.profile_out).sort_stats("cumulative").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds a user waits between requests (0: none)")
    parser.add_argument("--requests", type=int, default=3_000)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--timeout", type=float, default=10.0, help="per request")
    parser.add_argument("--threads", type=int, default=8, help="casework serve --threads")
    parser.add_argument("--database-url")
    parser.add_argument("--profile", action="store_true",
                        help="each page in-process: CPU and SQL statements, no server")
    parser.add_argument("--profile-out", help="with --profile: cProfile output file")
    parser.add_argument("--then-think", type=float, action="append", default=[],
                        help="after the first run (or the profile), a load run with this "
                             "think time on the same cases (repeatable)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    setup = prepare(args.cases, args.database_url)
    if args.profile:
        run_profile(args, setup)
    else:
        run_load(args, setup)
    for think in args.then_think:
        args.think = think
        run_load(args, setup)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
