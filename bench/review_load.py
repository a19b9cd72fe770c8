"""Benchmark: reviewers under load on 1,000,000 items (issue 13; SPEC §7, §7.1).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vad_review_core_bench \\
        .venv/bin/python bench/review_load.py [--items 1000000] [--workers 5] [--runs 3]

1. Recreates the database named in DATABASE_URL (its name must contain "bench": it is
   dropped), migrates it and loads --items items with one INSERT ... SELECT (~800 bytes
   each, mostly Chinese; 60 % in review, 80 % of those scored, the rest accepted, scored or
   candidates), the GIN origin index dropped during the load and built again after it
   (the trigram text index only with --text-index: about 40 minutes for 1M rows here),
   then VACUUM ANALYZE. --reuse-db skips this for a database kept (--keep-db) earlier.
2. Starts the app under gunicorn (--workers sync workers, persistent database connections,
   DEBUG off) and simulated reviewers as HTTP clients on loopback, each logged in with a
   session (as a browser is) and doing: claim (POST /api/v1/review/claim/) -> fetch the
   htmx fragment that shows the item (/review/item/<id>/ when the app has it, else the
   item JSON GET /api/v1/items/<id>/, and the output says which) -> accept
   (POST /api/v1/items/<id>/accept/ with the version the claim returned).
3. (a) Open loop: decisions start at an offered --rate per second (default 50, about 250
   human reviewers; several values run (a) at each) whatever the server does, each on a
   free simulated reviewer (--reviewers, default 100; an arrival that finds them all busy
   is dropped and counted); latencies are counted from the scheduled start, so a slow
   server cannot hide its queue. p50, p95, p99 of claim+render and of accept; target
   p95 < 50 ms for both.
   (b) Closed loop: --clients reviewers (default 20), no think time: decisions per second,
   and where the time goes: CPU seconds of the gunicorn workers, the database server's
   backends for this database, and the clients; then a profile of the same decisions in
   this process (share of the time spent in SQL, queries per decision, top functions).
   Each is run --runs times (default 3); the median is the figure.
4. Stops gunicorn, and drops the database unless --keep-db.

The machine's cores are shared by the server, PostgreSQL and the clients (and, here, by
other people's work: the load average is printed).
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import os
import pstats
import queue
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a plain script

from bench.import_export import (  # noqa: E402
    HARM_CATEGORIES,
    SEARCH_INDEXES,
    Database,
    bench_database,
    chinese,
    free_port,
    machine_load,
    verdict,
)

TARGET_P95_MS = 50.0
FRAGMENT_URL = "/review/item/{id}/"


# ----------------------------------------------------------------------------- loading


def _snippets(rng: random.Random, count: int, chars: tuple[int, int]) -> list[str]:
    return [chinese(rng, rng.randint(*chars)) for _ in range(count)]


SNIPPETS = {"i": (3000, (15, 40)), "n": (1000, (10, 40)), "o": (3000, (115, 200))}

# Built by the server from generate_series and Chinese snippets (building the rows in Python
# takes most of an hour for a million on two shared cores): ~800 bytes a row; 60 % in review
# (80 % of those scored, 30 % already classified), 25 % accepted, 10 % scored, 5 %
# candidates; a third translated, with harm categories in `origin`; 3 % flagged.
# content_hash is unique (a digest of the row's text and number), not the app's digest.
INSERT_ITEMS = """
INSERT INTO annotation_item (
    instruction, input, output, source, categorization, status, status_reason, version,
    content_hash, ifd, ifd_ppl, ifd_model, origin, flags, created_at, updated_at)
SELECT
    '第' || g || '题：' || i.body || '？',
    CASE WHEN d.has_input THEN n.body ELSE '' END,
    o.body || left(o2.body, g %% 61),
    d.source,
    CASE WHEN s.status = 'accepted' OR (s.status = 'in_review' AND d.roll < 0.18)
         THEN (ARRAY['person', 'social', 'nation'])[1 + g %% 3] ELSE '' END,
    s.status, '', 1,
    encode(sha256(convert_to(g || '|' || i.body || '|' || o.body, 'UTF8')), 'hex'),
    s.ifd, s.ifd * 1.1, CASE WHEN s.ifd IS NULL THEN '' ELSE 'bench-model' END,
    jsonb_build_object('dataset', 'bench', 'license', 'CC-BY-NC-4.0', 'row', g)
        || CASE WHEN d.source = 'translated' THEN jsonb_build_object(
            'harm_categories', to_jsonb((%(harms)s)[1 + g %% 19 : g %% 19 + g %% 4]),
            'severity', g %% 4) ELSE '{}'::jsonb END,
    CASE WHEN d.flagged THEN '["length_ratio"]'::jsonb ELSE '[]'::jsonb END,
    now(), now()
FROM generate_series(0, %(count)s - 1) AS g
CROSS JOIN LATERAL (
    SELECT random() + 0 * g AS roll, random() < 0.3 AS has_input, random() < 0.03 AS flagged,
           random() AS scored_roll, random() AS ifd_roll,
           (ARRAY['manual', 'synthetic', 'translated'])[1 + (g / 3) %% 3] AS source
) AS d
CROSS JOIN LATERAL (
    SELECT status,
           CASE WHEN status IN ('accepted', 'scored')
                  OR (status = 'in_review' AND d.scored_roll < 0.8)
                THEN round((0.05 + 0.94 * d.ifd_roll)::numeric, 4)::float END AS ifd
    FROM (SELECT CASE WHEN d.roll < 0.60 THEN 'in_review' WHEN d.roll < 0.85 THEN 'accepted'
                      WHEN d.roll < 0.95 THEN 'scored' ELSE 'candidate' END AS status) AS x
) AS s
JOIN bench_snippet i ON i.kind = 'i' AND i.n = (g::bigint * 7919) %% 3000
JOIN bench_snippet n ON n.kind = 'n' AND n.n = (g::bigint * 104729) %% 1000
JOIN bench_snippet o ON o.kind = 'o' AND o.n = (g::bigint * 15485863) %% 3000
JOIN bench_snippet o2 ON o2.kind = 'o' AND o2.n = (g::bigint * 32452843 + 1) %% 3000
"""


def load_items(count: int, *, text_index: bool) -> None:
    """One INSERT ... SELECT, with the GIN search indexes dropped meanwhile and built again
    from their own definitions afterwards (as a bulk import would).

    The trigram index over the text (item_text_trgm) is built only with --text-index:
    for a million rows of Chinese text (a trigram per character) that takes about 40
    minutes on two shared cores. The review path never reads it.
    """
    from django.db import connection, transaction

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = ANY(%s)", [list(SEARCH_INDEXES)]
        )
        definitions = [
            row[0] for row in cursor.fetchall() if text_index or "gin_trgm_ops" not in row[0]
        ]
        for index in SEARCH_INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {index}")
    rng = random.Random("review-load")
    harms = "ARRAY[" + ", ".join("'" + h.replace("'", "''") + "'" for h in HARM_CATEGORIES) + "]"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_snippet (kind text, n int, body text)")
        with cursor.cursor.copy("COPY bench_snippet (kind, n, body) FROM STDIN") as copy:
            for kind, (size, chars) in SNIPPETS.items():
                for n, body in enumerate(_snippets(rng, size, chars)):
                    copy.write_row((kind, n, body[:-1] if kind == "i" else body))
        cursor.execute("SELECT setseed(0.42)")
        # No search keys for these items (as an import defers them to its follow-up): review
        # never reads them and a decision never writes them, while computing them in the
        # insert trigger takes 140-370 us an item, minutes for a million.
        cursor.execute("SET vad.search_deferred = 'on'")
        cursor.execute(INSERT_ITEMS % {"count": int(count), "harms": harms})
        cursor.execute("RESET vad.search_deferred")
    loaded = time.perf_counter() - started
    print(f"  INSERT ... SELECT {count:,} items in {loaded:.0f} s ({count / loaded:,.0f} rows/s)")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for definition in definitions:
            cursor.execute(definition)
        cursor.execute("VACUUM (ANALYZE) annotation_item")
        cursor.execute("CHECKPOINT")
    print(
        f"  {len(definitions)} search indexes rebuilt, VACUUM ANALYZE, CHECKPOINT in "
        f"{time.perf_counter() - started:.0f} s"
    )


def index_note() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE indexname = 'item_text_trgm') "
            "FROM pg_indexes WHERE tablename = 'annotation_item'"
        )
        total, trigram = cursor.fetchone()
    return f"{total} indexes on annotation_item" + (
        "" if trigram else ", the trigram text index left out (--text-index)"
    )


def queue_size() -> int:
    from annotation.models import Item

    return Item.objects.filter(status="in_review").count()


# ----------------------------------------------------------------------------- reviewers


@dataclass(frozen=True)
class Reviewer:
    username: str
    cookie: str
    csrf: str


def make_reviewers(prefix: str, count: int) -> list[Reviewer]:
    """Reviewers with a logged-in session each (made here: no password hashing on the clock)."""
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore

    from annotation.permissions import REVIEWERS_GROUP

    group, _ = Group.objects.get_or_create(name=REVIEWERS_GROUP)
    reviewers = []
    for n in range(count):
        username = f"{prefix}{n}"
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.groups.add(group)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]  # as a login does
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        csrf = secrets.token_hex(16)  # 32 characters: an unmasked CSRF secret
        cookie = f"{settings.SESSION_COOKIE_NAME}={session.session_key}; csrftoken={csrf}"
        reviewers.append(Reviewer(username, cookie, csrf))
    return reviewers


def fragment_available() -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve(FRAGMENT_URL.format(id=1))
    except Resolver404:
        return False
    return True


# ----------------------------------------------------------------------------- server


@contextmanager
def gunicorn(workers: int) -> Iterator[tuple[int, int]]:
    """The app under gunicorn (sync workers): yields its port and the master's pid."""
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "DATABASE_CONN_MAX_AGE": "600",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "vad_review.wsgi:application",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--backlog",
            "512",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {server.returncode}")
            try:
                status, _, _ = request(port, "GET", "/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer within 90 s")
            time.sleep(0.3)
        yield port, server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def request(
    port: int,
    method: str,
    path: str,
    *,
    reviewer: Reviewer | None = None,
    body=None,
    extra_headers: dict[str, str] | None = None,
) -> tuple[int, bytes, float]:
    """One HTTP request on a new loopback connection: status, body, seconds."""
    headers = {"Host": "127.0.0.1", **(extra_headers or {})}
    payload = None
    if reviewer is not None:
        headers["Cookie"] = reviewer.cookie
        if method != "GET":
            headers["X-CSRFToken"] = reviewer.csrf
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return response.status, data, time.perf_counter() - started


# ----------------------------------------------------------------------------- decisions


@dataclass
class Decision:
    claim_render: float  # from the (scheduled) start until the fragment has arrived
    accept: float
    claim: float
    render: float


class QueueEmpty(Exception):
    pass


def decide(port: int, reviewer: Reviewer, render_url: str, started: float) -> Decision:
    """claim -> fetch what shows the item -> accept, checking every answer."""
    status, body, claim_seconds = request(port, "POST", "/api/v1/review/claim/", reviewer=reviewer)
    if status == 204:
        raise QueueEmpty
    if status != 200:
        raise RuntimeError(f"claim answered {status}: {body[:300]!r}")
    item = json.loads(body)
    status, body, render_seconds = request(
        port,
        "GET",
        render_url.format(id=item["id"]),
        reviewer=reviewer,
        extra_headers={"HX-Request": "true"},  # as htmx asks for the fragment
    )
    if status != 200 or item["instruction"][:20].encode() not in body:
        raise RuntimeError(f"fetching item {item['id']} answered {status}: {body[:300]!r}")
    shown = time.perf_counter()
    answer = {"version": item["version"]}
    if not item["categorization"]:
        answer["categorization"] = "social"
    status, body, accept_seconds = request(
        port, "POST", f"/api/v1/items/{item['id']}/accept/", reviewer=reviewer, body=answer
    )
    if status != 200:
        raise RuntimeError(f"accept of {item['id']} answered {status}: {body[:300]!r}")
    return Decision(shown - started, accept_seconds, claim_seconds, render_seconds)


@dataclass
class RunFigures:
    decisions: list[Decision] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    dropped: int = 0

    def percentile(self, attribute: str, p: float) -> float:
        values = sorted(getattr(d, attribute) for d in self.decisions)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))] * 1000

    def mean(self, attribute: str) -> float:
        return statistics.fmean(getattr(d, attribute) for d in self.decisions) * 1000


def open_loop(
    port: int, reviewers: list[Reviewer], render_url: str, rate: float, seconds: float
) -> RunFigures:
    """Decisions start every 1/rate s on a free simulated reviewer, whatever the server does.

    An arrival that finds every simulated reviewer busy is dropped and counted (the offered
    load exceeds what the server absorbs); the run ends `seconds` after it began, and what
    is still in flight then gets 30 s more to finish.
    """
    figures = RunFigures()
    idle: queue.Queue[Reviewer] = queue.Queue()
    for reviewer in reviewers:
        idle.put(reviewer)
    lock = threading.Lock()
    threads: list[threading.Thread] = []

    def one(reviewer: Reviewer, scheduled: float) -> None:
        try:
            decision = decide(port, reviewer, render_url, scheduled)
            with lock:
                figures.decisions.append(decision)
        except Exception as error:  # counted and shown; the run goes on
            with lock:
                figures.errors.append(repr(error)[:300])
        finally:
            idle.put(reviewer)

    begin = time.perf_counter()
    for n in range(int(rate * seconds)):
        scheduled = begin + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            reviewer = idle.get_nowait()
        except queue.Empty:
            figures.dropped += 1
            continue
        thread = threading.Thread(target=one, args=(reviewer, scheduled), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(timeout=max(0.1, begin + seconds + 30 - time.perf_counter()))
    figures.seconds = time.perf_counter() - begin
    return figures


def closed_loop(
    port: int, reviewers: list[Reviewer], render_url: str, seconds: float
) -> RunFigures:
    """Each reviewer decides again as soon as the last decision is done."""
    figures = RunFigures()
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def loop(reviewer: Reviewer) -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                decision = decide(port, reviewer, render_url, started)
            except Exception as error:
                with lock:
                    figures.errors.append(repr(error)[:300])
                return
            with lock:
                figures.decisions.append(decision)

    begin = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(r,), daemon=True) for r in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    figures.seconds = time.perf_counter() - begin
    return figures


# ----------------------------------------------------------------------------- where time goes


class CpuSplit:
    """CPU seconds used during a run by gunicorn (master and workers), this database's
    PostgreSQL backends, and this process (the clients)."""

    def __init__(self, gunicorn_pid: int, database: str) -> None:
        self.gunicorn_pid = gunicorn_pid
        self.database = database

    def _processes(self):
        import psutil

        server = psutil.Process(self.gunicorn_pid)
        groups = {"gunicorn": [server, *server.children(recursive=True)], "postgres": []}
        for process in psutil.process_iter(["name", "cmdline"]):
            title = " ".join(process.info["cmdline"] or [])
            if title.startswith("postgres:") and f" {self.database} " in f" {title} ":
                groups["postgres"].append(process)
        groups["clients"] = [psutil.Process()]
        return groups

    @staticmethod
    def _cpu(processes) -> dict[int, float]:
        seconds = {}
        for process in processes:
            try:
                times = process.cpu_times()
                seconds[process.pid] = times.user + times.system
            except Exception:  # a process that ended
                continue
        return seconds

    def __enter__(self) -> CpuSplit:
        self.groups = self._processes()
        self.before = {name: self._cpu(ps) for name, ps in self.groups.items()}
        return self

    def __exit__(self, *exc) -> None:
        self.used = {}
        for name, processes in self.groups.items():
            after = self._cpu(processes)
            self.used[name] = sum(after[pid] - self.before[name].get(pid, 0.0) for pid in after)

    def line(self, decisions: int) -> str:
        total = sum(self.used.values()) or 1.0
        return ", ".join(
            f"{name} {seconds:.1f} CPU s ({100 * seconds / total:.0f} %, "
            f"{1000 * seconds / max(decisions, 1):.1f} ms/decision)"
            for name, seconds in self.used.items()
        )


def profile_in_process(decisions: int, render_url: str) -> list[str]:
    """The same decisions through Django's test client in this process: SQL share, queries
    per request, and the functions that take the most time."""
    from django.db import connection
    from django.test import Client

    from annotation.models import Item

    user_model = __import__("django.contrib.auth", fromlist=["get_user_model"]).get_user_model()
    user = user_model.objects.get(username="profile0")
    client = Client()
    client.force_login(user)
    sql = {"seconds": 0.0, "queries": 0}

    def timed(execute, query, params, many, context):
        started = time.perf_counter()
        try:
            return execute(query, params, many, context)
        finally:
            sql["seconds"] += time.perf_counter() - started
            sql["queries"] += 1

    profiler = cProfile.Profile()
    started = time.perf_counter()
    done = 0
    with connection.execute_wrapper(timed):
        profiler.enable()
        for _ in range(decisions):
            claimed = client.post("/api/v1/review/claim/")
            if claimed.status_code != 200:
                break
            item = claimed.json()
            client.get(render_url.format(id=item["id"]))
            answer = {"version": item["version"], "categorization": "social"}
            accepted = client.post(
                f"/api/v1/items/{item['id']}/accept/", answer, content_type="application/json"
            )
            assert accepted.status_code == 200, accepted.content
            done += 1
        profiler.disable()
    seconds = time.perf_counter() - started
    assert Item.objects.filter(reviewer=user).count() >= done
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    top = [
        line
        for line in out.getvalue().splitlines()
        if line.strip() and ("{" in line or "/" in line) and "ncalls" not in line
    ][:12]
    return [
        f"  {done} decisions in one process: {1000 * seconds / max(done, 1):.1f} ms each, of "
        f"which SQL (client side of the database round trips) "
        f"{1000 * sql['seconds'] / max(done, 1):.1f} ms "
        f"({100 * sql['seconds'] / seconds:.0f} %), {sql['queries'] / max(done, 1):.1f} "
        "queries per decision (3 requests)",
        "  top functions by own time (cProfile, tottime):",
        *(f"    {line.strip()[:150]}" for line in top),
    ]


def explain_claim() -> list[str]:
    """EXPLAIN ANALYZE of the claim's queue query, as review_claim runs it (rolled back)."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from annotation.selectors import review_queue

    user = get_user_model().objects.get(username="profile0")
    queryset = review_queue(reviewer=user).select_for_update(skip_locked=True, of=("self",))[:1]
    with transaction.atomic(), connection.cursor() as cursor:
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, TIMING) {sql}", params)
        lines = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)
    return [f"    {line}" for line in lines]


# ----------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument(
        "--rate",
        type=float,
        nargs="+",
        default=[50.0],
        help="offered decisions/s (a); several values run (a) at each",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each run")
    parser.add_argument("--reviewers", type=int, default=100, help="simulated reviewers (a)")
    parser.add_argument("--clients", type=int, default=20, help="closed-loop clients (b)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile-decisions", type=int, default=100)
    parser.add_argument(
        "--text-index", action="store_true", help="also build the trigram text index (slow)"
    )
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--reuse-db", action="store_true", help="skip the load (a kept db)")
    return parser.parse_args()


def report_open(runs: list[RunFigures], rate: float) -> list[str]:
    lines = []
    for n, run in enumerate(runs, 1):
        lines.append(
            f"  run {n}: {len(run.decisions)} decisions in {run.seconds:.1f} s "
            f"({len(run.decisions) / run.seconds:.1f}/s, offered {rate:g}/s), "
            f"{len(run.errors)} errors, {run.dropped} arrivals dropped (every simulated "
            "reviewer busy); "
            f"claim+render p50/p95/p99 {run.percentile('claim_render', 50):.1f}/"
            f"{run.percentile('claim_render', 95):.1f}/{run.percentile('claim_render', 99):.1f}"
            f" ms; accept {run.percentile('accept', 50):.1f}/{run.percentile('accept', 95):.1f}"
            f"/{run.percentile('accept', 99):.1f} ms"
        )
        if run.errors:
            lines.append(f"    first error: {run.errors[0]}")

    def median(attribute: str, p: float) -> float:
        return statistics.median(run.percentile(attribute, p) for run in runs)

    claim95, accept95 = median("claim_render", 95), median("accept", 95)
    lines += [
        f"  median of {len(runs)} runs: claim+render p50 {median('claim_render', 50):.1f} ms, "
        f"p95 {claim95:.1f} ms, p99 {median('claim_render', 99):.1f} ms; accept p50 "
        f"{median('accept', 50):.1f} ms, p95 {accept95:.1f} ms, p99 {median('accept', 99):.1f} ms",
        f"  target p95 < {TARGET_P95_MS:g} ms: claim+render {verdict(claim95 < TARGET_P95_MS)}, "
        f"accept {verdict(accept95 < TARGET_P95_MS)}",
    ]
    return lines


def main() -> None:
    args = parse_args()
    database = Database.from_environment()
    print(f"review_load: {args.items:,} items, database {database.name}; {machine_load()}")
    with bench_database(database, recreate=not args.reuse_db, keep=args.keep_db):
        if not args.reuse_db:
            load_items(args.items, text_index=args.text_index)
        print(f"  queue: {queue_size():,} items in review; {index_note()}")
        render_url = FRAGMENT_URL if fragment_available() else "/api/v1/items/{id}/"
        shown = (
            "the htmx fragment /review/item/<id>/"
            if render_url == FRAGMENT_URL
            else "the item JSON GET /api/v1/items/<id>/ (no /review/item/<id>/ in this build)"
        )
        print(f"  render step: {shown}")
        tag = secrets.token_hex(3)
        open_reviewers = make_reviewers(f"open-{tag}-", args.reviewers)
        closed_reviewers = make_reviewers(f"closed-{tag}-", args.clients)
        make_reviewers("profile", 1)
        print("  claim query plan (EXPLAIN ANALYZE):")
        print("\n".join(explain_claim()))
        from django.db import connections

        connections.close_all()
        print(f"gunicorn: {args.workers} sync workers on 127.0.0.1; {machine_load()}")
        with gunicorn(args.workers) as (port, pid):
            for reviewer in open_reviewers[:5]:  # warm every worker's connection and imports
                for _ in range(args.workers):
                    request(port, "GET", "/api/v1/", reviewer=reviewer)
            for rate in args.rate:
                print(f"(a) open loop at {rate:g} decisions/s, {args.seconds:g} s a run")
                opened = [
                    open_loop(port, open_reviewers, render_url, rate, args.seconds)
                    for _ in range(args.runs)
                ]
                print("\n".join(report_open(opened, rate)))
            print(
                f"(b) closed loop, {args.clients} clients, no think time, {args.seconds:g} s a run"
            )
            rates = []
            for n in range(args.runs):
                with CpuSplit(pid, database.name) as split:
                    run = closed_loop(port, closed_reviewers, render_url, args.seconds)
                rate = len(run.decisions) / run.seconds
                rates.append(rate)
                print(
                    f"  run {n + 1}: {len(run.decisions)} decisions in {run.seconds:.1f} s = "
                    f"{rate:.1f} decisions/s, {len(run.errors)} errors; mean claim "
                    f"{run.mean('claim'):.1f} ms, render {run.mean('render'):.1f} ms, accept "
                    f"{run.mean('accept'):.1f} ms; p95 decision "
                    f"{run.percentile('claim_render', 95) + run.percentile('accept', 95):.0f} ms"
                )
                print(f"    CPU: {split.line(len(run.decisions))}")
                if run.errors:
                    print(f"    first error: {run.errors[0]}")
            print(f"  median: {statistics.median(rates):.1f} decisions/s sustained")
        print("where the time goes, in one process:")
        print("\n".join(profile_in_process(args.profile_decisions, render_url)))
        print(f"  {machine_load()}")


if __name__ == "__main__":
    main()
