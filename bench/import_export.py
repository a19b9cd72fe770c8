"""Benchmark: SafeRLHF import and VAD export on PostgreSQL, measured in one run.

    DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/vad_review_bench \\
        .venv/bin/python bench/import_export.py [--saferlhf-rows 83400] [--vad-rows 1000000]

1. Generates SafeRLHF-shaped rows (~3 KB each, valid response sha256s, the fixture's mix of
   safe and unsafe responses) and VAD records (~800 bytes of JSON, mixed Chinese text) into
   files under --data-dir (kept and reused by later runs of the same sizes).
2. Recreates the database named in DATABASE_URL (its name must contain "bench": it is
   dropped) and migrates it.
3. Import: `import_file(fmt="saferlhf")` against a naive baseline that parses the same rows
   with the same converter (json.loads, then the checks on the dict) and saves one `Item` per
   row in autocommit (first 5k rows). The two take turns (--import-repeats, default 3); the
   best of each is compared, and the turn-by-turn ratios are printed as well.
4. Loads the VAD records through `import_file(fmt="vad")` (COPY inside; one transaction)
   after dropping the two GIN indexes of migration 0002, which the export does not use and
   which would make this load take many minutes; then marks them accepted with one UPDATE.
5. Export: `export_items` in this process (to a temp file; RSS sampled in a thread) and over
   HTTP from `manage.py runserver --noreload` (DRF token; the server's RSS sampled).

Leaves no process running; drops the database unless --keep-db. --skip-import reuses a
database kept by an earlier run and measures the export only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a plain script

SAFERLHF_ROWS = 83_400  # PKU-SafeRLHF's size
VAD_ROWS = 1_000_000
NAIVE_ROWS = 5_000
SEARCH_INDEXES = ("item_origin_gin",)  # dropped for the export's 1M load
SEARCH_IMPORT_ROWS = 200_000
STATUS_CHANGE_ROWS = 83_400
API_ROWS = 1_000_000
RARE_WORD, COMMON_WORD = "熊猫", "龙舟"  # in ~0.1 % and ~10 % of the search records
GENERATOR_VERSION = 2  # part of the data file names: bump when the generators change

TARGET_IMPORT_SECONDS = 15.0  # for 83.4k SafeRLHF rows
TARGET_IMPORT_RATIO = 20.0
TARGET_EXPORT_ITEMS_PER_S = 100_000
TARGET_MEMORY_GROWTH_MB = 150.0
TARGET_COMMIT_ROWS_PER_S = 5_000
TARGET_SEARCHABLE_ROWS_PER_S = 1_700
TARGET_STATUS_ITEMS_PER_S = 10_000
TARGET_API_MS = 200.0

HARM_CATEGORIES = (
    "Endangering National Security",
    "Insulting Behavior",
    "Discriminatory Behavior",
    "Endangering Public Health",
    "Copyright Issues",
    "Violence",
    "Drugs",
    "Privacy Violation",
    "Economic Crime",
    "Mental Manipulation",
    "Human Trafficking",
    "Physical Harm",
    "Sexual Content",
    "Cybercrime",
    "Disrupting Public Order",
    "Environmental Damage",
    "Psychological Harm",
    "White-Collar Crime",
    "Animal Abuse",
)
PROMPT_SOURCES = ("Alpaca3-70B", "WizardLM-30B-Uncensored", "Beavertails")
_ENGLISH_VOCABULARY = """
the of and to in is that for it as was with be by on not this are or from at which but
have an they you were there been one all we their has would when if so will can could
should people money information system market company government data security account
personal legal illegal safe risk harm help explain describe how why what steps ways
method plan avoid protect report police law friend family neighbor online social media
computer network bank card identity access private public health doctor medicine drug
"""
EN_WORDS = tuple(_ENGLISH_VOCABULARY.split())
ZH_CHARS = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说"
    "产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点"
    "从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原"
    "诚信友善敬业爱国富强民主文明和谐自由平等公正法治责任尊重包容互助奉献孝顺勤劳节俭谦虚礼貌"
)
ZH_PHRASES = ("人工智能", "社会责任", "个人隐私", "网络安全", "AI", "GDP", "App", "2024年", "5G")
VAD_SOURCES = ("manual", "synthetic", "translated")
VAD_CATEGORIZATIONS = ("person", "social", "nation")


# ----------------------------------------------------------------------------- data files


def english(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choices(EN_WORDS, k=words))
    return text[0].upper() + text[1:]


def english_paragraphs(rng: random.Random, words: int) -> str:
    sentences = []
    while words > 0:
        n = min(words, rng.randint(8, 24))
        sentences.append(english(rng, n) + ".")
        words -= n
    return " ".join(sentences)


def harm_flags(rng: random.Random, safe: bool) -> dict[str, bool]:
    flagged = set() if safe else set(rng.sample(HARM_CATEGORIES, rng.randint(1, 3)))
    return {category: category in flagged for category in HARM_CATEGORIES}


def saferlhf_row(rng: random.Random, n: int) -> dict:
    """One row shaped like PKU-SafeRLHF: 7/16 both safe, 4/16 one safe, 5/16 none safe,
    1/16 with a better response that is not the safer one (as in the fixture sample)."""
    prompt = f"{english(rng, rng.randint(12, 40))} (case {n})?"
    responses = (
        english_paragraphs(rng, rng.randint(60, 160)),
        english_paragraphs(rng, rng.randint(60, 160)),
    )
    draw = rng.random()
    if draw < 7 / 16:
        safe = (True, True)
    elif draw < 11 / 16:
        safe = (True, False) if rng.random() < 0.5 else (False, True)
    else:
        safe = (False, False)
    safer = safe.index(True) if safe.count(True) == 1 else rng.randint(0, 1)
    better = safer if rng.random() >= 1 / 16 else 1 - safer
    row = {
        "prompt": prompt,
        "response_0": responses[0],
        "response_1": responses[1],
        "prompt_source": rng.choice(PROMPT_SOURCES),
        "response_0_source": "Alpaca-7B",
        "response_1_source": "Alpaca-7B",
        "is_response_0_safe": safe[0],
        "is_response_1_safe": safe[1],
        "response_0_harm_category": harm_flags(rng, safe[0]),
        "response_1_harm_category": harm_flags(rng, safe[1]),
        "response_0_severity_level": 0 if safe[0] else rng.randint(1, 3),
        "response_1_severity_level": 0 if safe[1] else rng.randint(1, 3),
        "better_response_id": better,
        "safer_response_id": safer,
    }
    for i in (0, 1):
        digest = hashlib.sha256((prompt + responses[i]).encode("utf-8")).hexdigest()
        row[f"response_{i}_sha256"] = digest
    return row


def chinese(rng: random.Random, chars: int) -> str:
    pieces = []
    while chars > 0:
        n = min(chars, rng.randint(6, 18))
        piece = "".join(rng.choices(ZH_CHARS, k=n))
        if rng.random() < 0.3:
            piece += rng.choice(ZH_PHRASES)
        pieces.append(piece + rng.choice("，，，。；"))
        chars -= n
    return "".join(pieces)[:-1] + "。"


def vad_record(rng: random.Random, n: int) -> dict:
    """~800 bytes of JSON: a Chinese instruction, sometimes an input, a long answer."""
    has_input = rng.random() < 0.3
    return {
        "instruction": f"第{n}题：{chinese(rng, rng.randint(15, 40))[:-1]}？",
        "input": chinese(rng, rng.randint(10, 40)) if has_input else "",
        "output": chinese(rng, rng.randint(115, 200)),
        "source": rng.choice(VAD_SOURCES),
        "categorization": rng.choice(VAD_CATEGORIZATIONS),
    }


def mixed_chinese(rng: random.Random, chars: int) -> str:
    """Chinese text with an English word or two after some phrases (~80 % of the characters
    Chinese, the rest punctuation, Latin letters and digits)."""
    pieces = []
    while chars > 0:
        n = min(chars, rng.randint(6, 18))
        piece = "".join(rng.choices(ZH_CHARS, k=n))
        if rng.random() < 0.15:
            piece += " " + " ".join(rng.choices(EN_WORDS, k=rng.randint(1, 2))) + " "
        elif rng.random() < 0.3:
            piece += rng.choice(ZH_PHRASES)
        pieces.append(piece + rng.choice("，，，。；"))
        chars -= n
    return "".join(pieces)[:-1] + "。"


def search_record(rng: random.Random, n: int) -> dict:
    """A VAD record of ~790 bytes of text, ~80 % of its characters Chinese, with RARE_WORD
    in ~0.1 % of them and COMMON_WORD in ~10 %, put at a random place of the answer.
    Neither word's characters are in ZH_CHARS, so the words occur only where they are put."""
    has_input = rng.random() < 0.3
    record = {
        "instruction": f"第{n}题：{mixed_chinese(rng, rng.randint(15, 40))[:-1]}？",
        "input": mixed_chinese(rng, rng.randint(10, 40)) if has_input else "",
        "output": mixed_chinese(rng, rng.randint(135, 225)),
        "source": rng.choice(VAD_SOURCES),
        "categorization": rng.choice(VAD_CATEGORIZATIONS),
    }
    for word, share in ((RARE_WORD, 0.001), (COMMON_WORD, 0.1)):
        if rng.random() < share:
            output = record["output"]
            at = rng.randrange(len(output))
            record["output"] = output[:at] + word + output[at:]
    return record


def data_file(data_dir: Path, kind: str, rows: int, make: Callable[[random.Random, int], dict]):
    path = data_dir / f"{kind}-{rows}-v{GENERATOR_VERSION}.jsonl"
    if path.exists():
        print(f"  reusing {path} ({path.stat().st_size / 1e6:.0f} MB)")
        return path
    started = time.perf_counter()
    rng = random.Random(f"{kind}-{rows}")
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as out:
        for n in range(rows):
            out.write(json.dumps(make(rng, n), ensure_ascii=False) + "\n")
    partial.replace(path)
    size = path.stat().st_size
    print(
        f"  wrote {path}: {rows:,} rows, {size / 1e6:.0f} MB ({size / rows:.0f} B/row) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return path


# ----------------------------------------------------------------------------- database


@dataclass(frozen=True)
class Database:
    name: str
    server: dict  # psycopg connection arguments for the maintenance database

    @classmethod
    def from_environment(cls) -> Database:
        import dj_database_url

        url = os.environ.get("DATABASE_URL", "")
        config = dj_database_url.parse(url) if url else {}
        if "postgresql" not in config.get("ENGINE", ""):
            sys.exit("Set DATABASE_URL to a PostgreSQL database, e.g. .../vad_review_bench")
        if "bench" not in config["NAME"]:
            sys.exit(f"Refusing to recreate {config['NAME']!r}: its name must contain 'bench'.")
        server = {
            "host": config.get("HOST") or "127.0.0.1",
            "port": config.get("PORT") or 5432,
            "user": config.get("USER") or "postgres",
            "password": config.get("PASSWORD") or None,
            "dbname": "postgres",
            "autocommit": True,
        }
        return cls(name=config["NAME"], server=server)

    def _execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(**self.server) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def exists(self) -> bool:
        return bool(self._execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.name,)))

    def create(self) -> None:
        self._execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def configure_django() -> None:
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-used-elsewhere")
    os.environ["DJANGO_SETTINGS_MODULE"] = "vad_review.settings"
    os.environ["DEBUG"] = "0"  # DEBUG keeps every query: not what a server runs with
    os.environ.setdefault("VAD_TASKS_EAGER", "1")  # no broker needed; progress in locmem
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


@contextmanager
def bench_database(database: Database, *, recreate: bool, keep: bool) -> Iterator[None]:
    """Django set up on the bench database, migrated; ``recreate`` starts from an empty one,
    and the database is dropped at the end unless ``keep``."""
    if recreate:
        database.drop()
        database.create()
    configure_django()
    from django.core.management import call_command
    from django.db import connections

    try:
        call_command("migrate", verbosity=0)
        yield
    finally:
        connections.close_all()
        if not keep:
            database.drop()


# ----------------------------------------------------------------------------- measuring


class ProcessWatch:
    """Samples a process's resident memory in a thread and counts the CPU time it uses.

    `growth_mb` is peak minus start. CPU seconds per item do not depend on what else runs
    on the machine, unlike items/s.
    """

    def __init__(self, pid: int | None = None, interval: float = 0.01) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.interval = interval
        self.start = self.peak = self.process.memory_info().rss
        self.cpu_seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _cpu(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> ProcessWatch:
        self._cpu_start = self._cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)
        self.cpu_seconds = self._cpu() - self._cpu_start

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20


@dataclass
class ExportFigures:
    label: str
    items: int
    bytes: int
    seconds: float
    memory_growth_mb: float
    cpu_seconds: float  # of the exporting process (this one, or the HTTP server)

    def line(self) -> str:
        return (
            f"  {self.label:<42} {self.items:>9,} items {self.bytes / 1e6:>6.1f} MB "
            f"{self.seconds:>6.2f} s {self.items / self.seconds:>8,.0f} items/s "
            f"{self.bytes / 1e6 / self.seconds:>4.0f} MB/s  "
            f"CPU {self.cpu_seconds * 1e6 / max(self.items, 1):.1f} us/item  "
            f"memory +{self.memory_growth_mb:.0f} MB"
        )


def machine_load() -> str:
    # Other work on the machine slows every figure here: say how busy it was.
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.1f} (1 min), {five:.1f} (5 min)"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


# ----------------------------------------------------------------------------- import


def import_saferlhf(path: Path) -> tuple[int, float]:
    from annotation.services import ImportRequest, import_file

    report = import_file(request=ImportRequest(path=path, format="saferlhf"))
    print(f"  import_file: {report.summary()}")
    return report.read, report.seconds


def import_naively(path: Path, rows: int) -> tuple[int, float]:
    """The baseline: same parsing and conversion, then one INSERT (one commit) per item."""
    from django.db import connection

    from annotation.importers import ImportOptions, get_format
    from annotation.models import Item
    from annotation.services.imports.copy_writer import DRAFT_FIELDS, draft_values

    saferlhf = get_format("saferlhf")
    convert = saferlhf.make_converter(
        ImportOptions(rule=saferlhf.default_rule, file_name=path.name)
    )
    # Per-row saves write search keys through the trigger, which import_file leaves to its
    # follow-up: the baseline leaves them too, so both sides write the same (item rows).
    with connection.cursor() as cursor:
        cursor.execute("SET vad.search_deferred = 'on'")
    started = time.perf_counter()
    read = 0
    with path.open(encoding="utf-8") as lines:
        for row, line in enumerate(lines):
            if row == rows:
                break
            read += 1
            draft = convert(json.loads(line), row)
            if draft is None:
                continue
            Item(**dict(zip(DRAFT_FIELDS, draft_values(draft), strict=True))).save()
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("RESET vad.search_deferred")
    return read, seconds


def delete_all_items() -> None:
    """Empty the table and flush what earlier runs left in memory, so that no run pays
    for writing out the pages of the run before it."""
    from django.db import connection

    with connection.cursor() as cursor:
        # The search keys have no foreign key (models.ItemSearchText): named here.
        cursor.execute("TRUNCATE annotation_item, annotation_itemsearchtext CASCADE")
        cursor.execute("CHECKPOINT")


def drop_text_search_indexes() -> None:
    """Drop the GIN indexes of migration 0002 (trigram search, origin containment).

    Maintaining them costs a trigram-index insertion per distinct trigram of every row
    (about one per character of Chinese text), which makes loading 1M rows take many minutes,
    and the export does not use them: it reads in primary-key order.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        for index in SEARCH_INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {index}")


def load_vad(path: Path) -> None:
    from django.db import connection

    from annotation.services import ImportRequest, import_file

    drop_text_search_indexes()
    report = import_file(request=ImportRequest(path=path, format="vad"))
    rate = report.read / report.seconds
    print(f"  import_file: {report.summary()} ({rate:,.0f} rows/s)")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # The records carry a class; accepted items must have one (a model constraint).
        cursor.execute(
            "UPDATE annotation_item SET status = 'accepted', "
            "categorization = CASE WHEN categorization = '' THEN 'social' "
            "ELSE categorization END, reviewed_at = now() WHERE status = 'candidate'"
        )
        accepted = cursor.rowcount
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) annotation_item")
        # Write the load's dirty pages now, not while the export is being timed.
        cursor.execute("CHECKPOINT")
    seconds = time.perf_counter() - started
    print(
        f"  accepted {accepted:,} items (one UPDATE, VACUUM ANALYZE, CHECKPOINT) in {seconds:.1f} s"
    )


# ----------------------------------------------------------------------------- export


def export_in_process(fmt: str, *, include_meta: bool = False) -> ExportFigures:
    import io

    from django.core.management import call_command

    from annotation.models import ExportLog

    with tempfile.TemporaryDirectory(prefix="vad-bench-") as tmp:
        out = Path(tmp) / f"export.{fmt}"
        args = ["--format", fmt, *(["--include-meta"] if include_meta else []), str(out)]
        started = time.perf_counter()
        with ProcessWatch() as watch:
            call_command("export_items", *args, stderr=io.StringIO())
        seconds = time.perf_counter() - started
        size = out.stat().st_size
    count = ExportLog.objects.order_by("-id").values_list("count", flat=True).first() or 0
    label = f"export_items --format {fmt}" + (" --include-meta" if include_meta else "")
    return ExportFigures(label, count, size, seconds, watch.growth_mb, watch.cpu_seconds)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def http_server() -> Iterator[tuple[str, int]]:
    """runserver in a subprocess: yields its base URL and pid; always stopped afterwards."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"runserver exited with {server.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("runserver did not start within 60 s") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def admin_token() -> str:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from annotation.services import user_create

    user = get_user_model().objects.filter(username="bench-admin").first()
    if user is None:
        user, _ = user_create(username="bench-admin", role="admin")
    return Token.objects.get_or_create(user=user)[0].key


def read_stream(url: str, token: str) -> tuple[int, int, bytes]:
    """Bytes and newlines read, and the last bytes (to check the end of the document)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
    size = newlines = 0
    tail = b""
    with urllib.request.urlopen(request) as response:
        while chunk := response.read(1 << 20):
            size += len(chunk)
            newlines += chunk.count(b"\n")
            tail = (tail + chunk[-16:])[-16:]
    return size, newlines, tail


def export_over_http(base_url: str, server_pid: int, token: str, fmt: str) -> ExportFigures:
    # A first small request loads the code paths, so memory growth is the export's own.
    read_stream(f"{base_url}/api/v1/export/?format={fmt}&status=seed", token)
    started = time.perf_counter()
    with ProcessWatch(server_pid) as watch:
        size, newlines, tail = read_stream(f"{base_url}/api/v1/export/?format={fmt}", token)
    seconds = time.perf_counter() - started
    # jsonl: one line a record; json: "[", one line a record, "]".
    items = newlines if fmt == "jsonl" else newlines - 2
    if fmt == "json" and not tail.endswith(b"]\n"):
        raise RuntimeError("the JSON export did not end with ]")
    return ExportFigures(
        f"GET /api/v1/export/?format={fmt}",
        items,
        size,
        seconds,
        watch.growth_mb,
        watch.cpu_seconds,
    )


# ----------------------------------------------------------------------------- search


def hold_search_follow_ups() -> list[dict]:
    """Keep the follow-up that indexes an import's text from running inside import_file.

    Tasks run in-process here (VAD_TASKS_EAGER), where the follow-up would run at the
    import's commit, inside the time of import_file; on a real deployment a worker runs it
    after the commit. The bench holds the requests and runs the follow-up itself, timed
    apart (search_follow_up).
    """
    from annotation import tasks

    held: list[dict] = []
    tasks.fill_search_text.delay = lambda **kwargs: held.append(kwargs)
    return held


def search_follow_up(held: list[dict]) -> int:
    from annotation.services.search import item_search_text_fill

    filled = sum(item_search_text_fill(**kwargs) for kwargs in held)
    held.clear()
    return filled


def chinese_share(path: Path, rows: int = 2000) -> tuple[float, float]:
    """Mean bytes of text per item and the share of CJK characters in it."""
    text = []
    with path.open(encoding="utf-8") as lines:
        for n, line in enumerate(lines):
            if n == rows:
                break
            record = json.loads(line)
            text.append(record["instruction"] + record["input"] + record["output"])
    joined = "".join(text)
    cjk = sum(1 for ch in joined if "\u4e00" <= ch <= "\u9fff")  # Chinese characters
    return len(joined.encode()) / len(text), cjk / len(joined)


def import_until_searchable(path: Path, held: list[dict]) -> tuple[int, float, float]:
    """Rows, seconds until committed, seconds until searchable (commit + follow-up)."""
    from annotation.services import ImportRequest, import_file

    delete_all_items()
    started = time.perf_counter()
    report = import_file(request=ImportRequest(path=str(path), format="vad"))
    committed = time.perf_counter() - started
    filled = search_follow_up(held)
    searchable = time.perf_counter() - started
    print(
        f"  {report.created:,} items committed in {committed:.1f} s "
        f"({report.created / committed:,.0f} rows/s), {filled:,} searchable after "
        f"{searchable:.1f} s ({report.created / searchable:,.0f} rows/s)"
    )
    return report.created, committed, searchable


def side_table_writes() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute(
            "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables "
            "WHERE relname = 'annotation_itemsearchtext'"
        )
        return cursor.fetchone()[0]


def status_change(ids: list[int]) -> float:
    """Seconds to send `ids` to review (candidate -> in_review), revisions included; then
    puts them back (untimed)."""
    from django.db import connection

    from annotation.services import items_change_status

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
    started = time.perf_counter()
    moved = items_change_status(item_ids=ids, status="in_review", reason="bench")
    seconds = time.perf_counter() - started
    assert moved == len(ids)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE annotation_item SET status = 'candidate' WHERE id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM annotation_itemrevision WHERE reason = 'bench'")
        cursor.execute("VACUUM annotation_item")
    return seconds


def median_range(values: list[float]) -> str:
    return f"median {statistics.median(values):,.0f} (range {min(values):,.0f}-{max(values):,.0f})"


def run_search_import(args: argparse.Namespace, path: Path, held: list[dict]) -> list[str]:
    runs = args.search_repeats
    size, share = chinese_share(path)
    print(
        f"\nImport until searchable ({runs} runs; {size:.0f} bytes of text an item, "
        f"{share:.0%} CJK characters)"
    )
    results = [import_until_searchable(path, held) for _ in range(runs)]
    commit_rates = [rows / committed for rows, committed, _ in results]
    searchable_rates = [rows / searchable for rows, _, searchable in results]
    print(f"\nStatus change: {STATUS_CHANGE_ROWS:,} candidates sent to review ({runs} runs)")
    from annotation.models import Item

    ids = list(Item.objects.order_by("pk").values_list("pk", flat=True)[:STATUS_CHANGE_ROWS])
    before = side_table_writes()
    seconds = [status_change(ids) for _ in range(runs)]
    untouched = side_table_writes() == before
    rates = [len(ids) / s for s in seconds]
    for s in seconds:
        print(f"  {len(ids):,} items in {s:.2f} s ({len(ids) / s:,.0f} items/s)")
    rows = results[0][0]
    return [
        f"  import {rows:,} items, committed   {median_range(commit_rates)} rows/s "
        f"(target >= {TARGET_COMMIT_ROWS_PER_S:,}: "
        f"{verdict(statistics.median(commit_rates) >= TARGET_COMMIT_ROWS_PER_S)})",
        f"  import, until searchable       {median_range(searchable_rates)} rows/s "
        f"(target >= {TARGET_SEARCHABLE_ROWS_PER_S:,}: "
        f"{verdict(statistics.median(searchable_rates) >= TARGET_SEARCHABLE_ROWS_PER_S)}); "
        f"seconds until searchable: {', '.join(f'{r[2]:.1f}' for r in results)}",
        f"  status change, {len(ids):,} items {median_range(rates)} items/s "
        f"(target >= {TARGET_STATUS_ITEMS_PER_S:,}: "
        f"{verdict(statistics.median(rates) >= TARGET_STATUS_ITEMS_PER_S)}); "
        f"search table {'untouched' if untouched else 'WRITTEN'}",
    ]


def load_api_items(path: Path, held: list[dict]) -> None:
    """1M items, searchable, with a mix of statuses (set in SQL, as the load is not timed)."""
    from django.db import connection

    print("\nItems API: loading")
    import_until_searchable(path, held)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE annotation_item SET status = CASE WHEN id % 10 < 5 THEN 'accepted' "
            "WHEN id % 10 < 7 THEN 'in_review' WHEN id % 10 < 8 THEN 'rejected' "
            "WHEN id % 10 < 9 THEN 'scored' ELSE 'candidate' END"
        )
        cursor.execute("VACUUM (ANALYZE) annotation_item")
        cursor.execute("VACUUM (ANALYZE) annotation_itemsearchtext")
        cursor.execute("CHECKPOINT")


def api_page_ms(client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    seconds = time.perf_counter() - started
    assert response.status_code == 200, response.content[:200]
    assert "count" not in response.json()  # cursor pages: no total
    return seconds * 1000


def explain(query: str) -> str:
    from django.db import connection

    from annotation.selectors import item_list

    sql, params = item_list(filters={"q": query}).order_by("pk")[:51].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join("    " + row[0] for row in cursor.fetchall())


def run_api(args: argparse.Namespace) -> list[str]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from annotation.models import Item

    count = Item.objects.count()
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-admin"))
    rare = Item.objects.filter(output__contains=RARE_WORD).count()
    common = Item.objects.filter(output__contains=COMMON_WORD).count()
    urls = {
        "status=in_review&source=translated": "/api/v1/items/?status=in_review&source=translated",
        f"q={RARE_WORD} ({rare / count:.2%} of items)": f"/api/v1/items/?q={RARE_WORD}",
        f"q={COMMON_WORD} ({common / count:.1%} of items)": f"/api/v1/items/?q={COMMON_WORD}",
        f"q={RARE_WORD}&status=in_review&source=translated": (
            f"/api/v1/items/?q={RARE_WORD}&status=in_review&source=translated"
        ),
        f"q={COMMON_WORD}&status=in_review&source=translated": (
            f"/api/v1/items/?q={COMMON_WORD}&status=in_review&source=translated"
        ),
    }
    print(f"\nItems API, first page (50 items), {count:,} items; {args.search_repeats} runs")
    lines = []
    for label, url in urls.items():
        api_page_ms(client, url)  # warm: plans, caches
        times = [api_page_ms(client, url) for _ in range(args.search_repeats)]
        median = statistics.median(times)
        line = (
            f"  GET items/?{label:<46} {median_range(times)} ms "
            f"(target < {TARGET_API_MS:.0f} ms: {verdict(median < TARGET_API_MS)})"
        )
        print(line)
        lines.append(line)
    for word in (RARE_WORD, COMMON_WORD):
        print(f"  plan of q={word}:\n{explain(word)}")
    return lines


# ----------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saferlhf-rows", type=int, default=SAFERLHF_ROWS)
    parser.add_argument("--vad-rows", type=int, default=VAD_ROWS)
    parser.add_argument("--naive-rows", type=int, default=NAIVE_ROWS)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "vad-bench")
    parser.add_argument(
        "--skip-import", action="store_true", help="export only, from a database kept earlier"
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--import-repeats",
        type=int,
        default=5,
        help="turns of the naive baseline and import_file, alternating; the median of the "
        "turn-by-turn ratios is the figure",
    )
    parser.add_argument(
        "--export-repeats", type=int, default=2, help="time each export this often, keep the best"
    )
    parser.add_argument("--search-rows", type=int, default=SEARCH_IMPORT_ROWS)
    parser.add_argument("--api-rows", type=int, default=API_ROWS)
    parser.add_argument(
        "--search-repeats", type=int, default=3, help="runs of each search figure (median)"
    )
    parser.add_argument(
        "--parts",
        default="import,export,search,api",
        help="comma separated: import (SafeRLHF against naive), export, search (import until "
        "searchable, status change), api (items API at --api-rows)",
    )
    return parser.parse_args()


def run_import(args: argparse.Namespace, saferlhf: Path) -> list[str]:
    repeats = args.import_repeats
    print(f"\nImport (PostgreSQL, {repeats} turns, the naive baseline and import_file in turn)")
    naive_runs, runs = [], []
    for _ in range(repeats):
        delete_all_items()
        naive_runs.append(import_naively(saferlhf, args.naive_rows))
        print(
            f"  naive: {naive_runs[-1][0]:,} rows in {naive_runs[-1][1]:.2f} s, one save() per row"
        )
        delete_all_items()
        runs.append(import_saferlhf(saferlhf))
    # Best of the turns on each side, as for the export: load from other work on a shared
    # machine only ever slows a run down. The turn-by-turn ratios are printed too.
    naive_read, naive_seconds = min(naive_runs, key=lambda run: run[1])
    read, seconds = min(runs, key=lambda run: run[1])
    naive_rate, rate = naive_read / naive_seconds, read / seconds
    ratio = rate / naive_rate
    turn_ratios = sorted(
        (r / t) / (n / nt) for (r, t), (n, nt) in zip(runs, naive_runs, strict=True)
    )
    # Scaled to the real dataset's size when a smaller run was asked for.
    full_size_seconds = SAFERLHF_ROWS / rate
    return [
        f"  import_file saferlhf   {read:>9,} rows {seconds:>7.2f} s {rate:>10,.0f} rows/s   "
        f"83.4k rows in {full_size_seconds:.1f} s (target <= {TARGET_IMPORT_SECONDS:.0f} s: "
        f"{verdict(full_size_seconds <= TARGET_IMPORT_SECONDS)})",
        f"  naive save() per row   {naive_read:>9,} rows {naive_seconds:>7.2f} s "
        f"{naive_rate:>10,.0f} rows/s",
        f"  ratio, median of turns {statistics.median(turn_ratios):>9.1f}x (target >= "
        f"{TARGET_IMPORT_RATIO:.0f}x: "
        f"{verdict(statistics.median(turn_ratios) >= TARGET_IMPORT_RATIO)}); turn by turn "
        f"{', '.join(f'{r:.1f}x' for r in turn_ratios)}; best against best {ratio:.1f}x",
    ]


def best_of(repeats: int, measure: Callable[[], ExportFigures]) -> ExportFigures:
    """The fastest of `repeats` runs (other work on a shared machine only ever slows one
    down), with the largest memory growth seen in any of them."""
    runs = [measure() for _ in range(repeats)]
    best = min(runs, key=lambda figures: figures.seconds)
    best.memory_growth_mb = max(figures.memory_growth_mb for figures in runs)
    return best


def run_export(repeats: int) -> list[ExportFigures]:
    from django.db import connections

    print(f"\nExport (PostgreSQL, best of {repeats})")
    figures = [
        best_of(repeats, partial(export_in_process, "jsonl")),
        best_of(repeats, partial(export_in_process, "json")),
        best_of(repeats, partial(export_in_process, "jsonl", include_meta=True)),
    ]
    token = admin_token()
    connections.close_all()  # the server process has the database to itself
    with http_server() as (base_url, pid):
        for fmt in ("jsonl", "json"):
            figures.append(best_of(repeats, partial(export_over_http, base_url, pid, token, fmt)))
    for figure in figures:
        print(figure.line())
    return figures


def export_summary(figures: list[ExportFigures]) -> list[str]:
    # The speed target is for the SPEC §1 record (five keys); include=meta is shown above.
    slowest = min(f.items / f.seconds for f in figures if "meta" not in f.label)
    most_memory = max(f.memory_growth_mb for f in figures)
    items = max(f.items for f in figures)
    return [
        f"  export, slowest path   {slowest:>10,.0f} items/s (target >= "
        f"{TARGET_EXPORT_ITEMS_PER_S:,}: {verdict(slowest >= TARGET_EXPORT_ITEMS_PER_S)})",
        f"  export, memory growth  {most_memory:>10.0f} MB at {items:,} items (target < "
        f"{TARGET_MEMORY_GROWTH_MB:.0f} MB: {verdict(most_memory < TARGET_MEMORY_GROWTH_MB)})",
    ]


def main() -> None:
    args = parse_args()
    parts = set(args.parts.split(","))
    database = Database.from_environment()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    print(f"Machine: {machine_load()}")
    if args.skip_import:
        if not database.exists():
            sys.exit(f"--skip-import needs the database {database.name!r} from a --keep-db run")
        parts -= {"import", "search", "api"}
    print("Data files")
    if "import" in parts:
        saferlhf = data_file(args.data_dir, "saferlhf", args.saferlhf_rows, saferlhf_row)
    if "export" in parts and not args.skip_import:
        vad = data_file(args.data_dir, "vad", args.vad_rows, vad_record)
    if "search" in parts:
        searchable = data_file(args.data_dir, "search80", args.search_rows, search_record)
    if "api" in parts:
        api_items = data_file(args.data_dir, "search80", args.api_rows, search_record)
    with bench_database(database, recreate=not args.skip_import, keep=args.keep_db):
        from annotation.importers.parsing import allow_collector_pause

        allow_collector_pause()  # as the import command and the worker do
        held = hold_search_follow_ups()
        lines = []
        if "import" in parts:
            lines += run_import(args, saferlhf)
        if "export" in parts:
            if not args.skip_import:
                print("\nLoading the VAD records for the export")
                load_vad(vad)
            lines += export_summary(run_export(args.export_repeats))
        if "search" in parts:
            lines += run_search_import(args, searchable, held)
        if "api" in parts:
            admin_token()
            load_api_items(api_items, held)
            lines += run_api(args)
        print(f"\nSummary ({database.name}, PostgreSQL; {machine_load()})")
        for line in lines:
            print(line)


if __name__ == "__main__":
    main()
