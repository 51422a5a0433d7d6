"""The web front under load: Mijn werk, Zoeken and the case page with many cases stored.

Imports N cases (100,000 by default) into Kansen in Kaart, plans a wave for one wijk so a case
worker has work, gives that case worker a password, starts `casework serve` (waitress) on a free
loopback port and lets U simulated users (20 by default) each log in and then, in turn, open
their work list, search (a name, a postcode and house number, a BSN) and open a case of their
wijk. Bounded: it stops after --requests requests or --seconds seconds, whichever comes first.
Prints the 50th and 95th percentile and the slowest answer per page.

Usage: python bench/bench_web.py [--cases N] [--users U] [--requests R] [--seconds S]
                                  [--database-url URL]
"""

from __future__ import annotations

import argparse
import csv
import http.cookiejar
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from common import Scratch, machine, make_cohort

PASSWORD = "een lang wachtwoord voor de bench"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_json(scratch: Scratch, *args: str) -> Any:
    out = subprocess.run([sys.executable, "-m", "casework", *args, "--json"], env=scratch.env,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


class User:
    """One browser: its own cookies, logged in as the case worker."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as answer:
            return str(answer.read().decode("utf-8"))

    def post(self, path: str, fields: dict[str, str]) -> str:
        body = urllib.parse.urlencode(fields).encode("ascii")
        with self.opener.open(self.base + path, body, timeout=30) as answer:
            return str(answer.read().decode("utf-8"))

    def token(self, page: str) -> str:
        found = TOKEN.search(page)
        if not found:
            raise SystemExit("no CSRF token on the page: is the web front running?")
        return found.group(1)

    def login(self, name: str) -> None:
        page = self.get("/inloggen")
        self.post("/inloggen", {"csrf_token": self.token(page), "name": name,
                                "password": PASSWORD})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=3_000)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--threads", type=int, default=8, help="casework serve --threads")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    scratch = Scratch(args.database_url, extra='[rules]\ndisabled = ["exclusion"]\n')
    scratch.run("init")
    cohort = make_cohort(scratch.dir / "c.csv", args.cases)
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
    listed = cli_json(scratch, "case", "list", "--workflow", "kansen-in-kaart", "--wijk", wijk,
                      "--limit", "500")
    case_ids = [c["id"] for c in listed["cases"]]
    queries = []
    for person in people[:200]:
        queries += [person["surname"],
                    f"{person['postcode']} {person['house_number']}", person["bsn"]]

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "casework", "serve", "--port", str(port),
                               "--threads", str(args.threads)], env=scratch.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        timings: dict[str, list[float]] = {"mijn werk": [], "zoeken": [], "zaak": []}
        lock = threading.Lock()
        errors: list[str] = []
        count = [0]
        deadline = time.perf_counter() + args.seconds

        def user(number: int) -> None:
            browser = User(base)
            browser.login("werker")
            search_page = browser.get("/zoeken")
            token = browser.token(search_page)
            turn = number
            while True:
                with lock:
                    if count[0] >= args.requests or time.perf_counter() > deadline:
                        return
                    count[0] += 3
                turn += 1
                query = {"csrf_token": token, "q": queries[turn % len(queries)]}
                case_page = f"/zaak/{case_ids[turn % len(case_ids)]}"
                for page, method, path in (("mijn werk", "get", "/"),
                                           ("zoeken", "post", "/zoeken"),
                                           ("zaak", "get", case_page)):
                    began = time.perf_counter()
                    try:
                        if method == "post":
                            browser.post(path, query)
                        else:
                            browser.get(path)
                    except urllib.error.HTTPError as error:
                        with lock:
                            errors.append(f"{page}: HTTP {error.code}")
                        continue
                    spent = time.perf_counter() - began
                    with lock:
                        timings[page].append(spent)

        began = time.perf_counter()
        threads = [threading.Thread(target=user, args=(n,)) for n in range(args.users)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait(10)
    total = sum(len(t) for t in timings.values())
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{args.cases} cases stored ({backend}), {args.users} users, {total} requests in "
          f"{wall:.1f} s ({total / wall:.0f}/s), casework serve --threads {args.threads}")
    if errors:
        print(f"  {len(errors)} answers were errors, e.g. {errors[0]}")
    for page, spent in timings.items():
        spent.sort()
        if not spent:
            continue
        p50 = spent[len(spent) // 2] * 1000
        p95 = spent[min(len(spent) - 1, int(len(spent) * 0.95))] * 1000
        print(f"  {page:10} {len(spent):6} requests: p50 {p50:6.1f} ms, p95 {p95:6.1f} ms "
              f"(target < 100 ms), slowest {spent[-1] * 1000:6.1f} ms")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
