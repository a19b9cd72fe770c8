"""Benchmark: writing a scored chunk's results, bulk_update_fields against QuerySet.bulk_update.

    DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/vad_review_bench \\
        .venv/bin/python bench/score_writes.py [--chunks 16] [--chunk-size 256]

A score job writes eight fields of every item of a chunk (ifd, ifd_ppl, ifd_model, ifd_params,
scored_at, status, version, updated_at). On a GPU a 256-item chunk scores in a fraction of a
second, so the write must not take longer. This recreates the database named in DATABASE_URL
(its name must contain "bench"), imports 2 x chunks x chunk-size VAD records as candidates
(every index in place, as in production), then writes chunks of them as scored, the two ways
taking turns on fresh chunks, each in a transaction of its own, and compares the means.
It also times the whole service a score job calls, `items_record_scores` (lock and read the
chunk's items, check each transition, the one-statement write and the revisions), on fresh
chunks in the same turns.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script

from bench.import_export import Database, bench_database, machine_load, vad_record


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=16, help="chunks written each way")
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--keep-db", action="store_true")
    return parser.parse_args()


def import_candidates(count: int) -> list[int]:
    from annotation.models import Item
    from annotation.services import ImportRequest, import_file

    rng = random.Random(0)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8") as file:
        for n in range(count):
            file.write(json.dumps(vad_record(rng, n), ensure_ascii=False) + "\n")
        file.flush()
        import_file(request=ImportRequest(path=Path(file.name), format="vad"))
    return list(Item.objects.order_by("pk").values_list("pk", flat=True))


def write_chunk(item_ids: list[int], write) -> float:
    """Seconds that ``write`` takes to store one chunk's scores, inside its transaction."""
    from django.db import transaction
    from django.utils import timezone

    from annotation.models import Item, Status

    rng = random.Random(item_ids[0])
    with transaction.atomic():
        items = list(Item.objects.select_for_update().filter(pk__in=item_ids).order_by("pk"))
        now = timezone.now()
        for item in items:
            item.ifd = rng.random()
            item.ifd_ppl = rng.random()
            item.ifd_model = "/models/qwen2.5-0.5b"
            item.ifd_params = {
                "job_id": 1,
                "max_answer_tokens": 512,
                "answer_tokens": rng.randint(3, 512),
                "truncated": False,
                "loss_cond": rng.random() * 3,
                "loss_uncond": rng.random() * 3,
            }
            item.scored_at = item.updated_at = now
            item.status = Status.SCORED
            item.version += 1
        started = time.perf_counter()
        write(items)
        return time.perf_counter() - started


def record_chunk(item_ids: list[int]) -> float:
    """Seconds that the service takes to record one chunk's scores, reads included."""
    from annotation.services import ScoreRecord, items_record_scores

    rng = random.Random(item_ids[0])
    results = {
        pk: ScoreRecord(
            ifd=rng.random(),
            ifd_ppl=rng.random(),
            details={"max_answer_tokens": 512, "answer_tokens": rng.randint(3, 512)},
        )
        for pk in item_ids
    }
    started = time.perf_counter()
    items_record_scores(results=results, model="/models/qwen2.5-0.5b")
    return time.perf_counter() - started


def main() -> None:
    args = parse_args()
    with bench_database(Database.from_environment(), recreate=True, keep=args.keep_db):
        from annotation.bulk import bulk_update_fields
        from annotation.models import Item
        from annotation.services import SCORED_ITEM_FIELDS

        ways = {
            "QuerySet.bulk_update": lambda items: Item.objects.bulk_update(
                items, SCORED_ITEM_FIELDS
            ),
            "bulk_update_fields": lambda items: bulk_update_fields(items, SCORED_ITEM_FIELDS),
        }
        ids = import_candidates(3 * args.chunks * args.chunk_size)
        chunks = [ids[i : i + args.chunk_size] for i in range(0, len(ids), args.chunk_size)]
        seconds: dict[str, list[float]] = {name: [] for name in ways}
        service: list[float] = []
        for turn in range(args.chunks):
            for offset, (name, write) in enumerate(ways.items()):
                seconds[name].append(write_chunk(chunks[3 * turn + offset], write))
            service.append(record_chunk(chunks[3 * turn + 2]))

        print(f"Machine: {machine_load()}")
        print(
            f"{args.chunks} chunks of {args.chunk_size} items each way, "
            f"{len(SCORED_ITEM_FIELDS)} fields"
        )
        for name, values in seconds.items():
            mean, median = statistics.fmean(values) * 1e3, statistics.median(values) * 1e3
            per_item = mean / args.chunk_size
            fastest, slowest = min(values) * 1e3, max(values) * 1e3
            print(
                f"  {name:<22} mean {mean:4.0f} ms a chunk ({per_item:.2f} ms an item), "
                f"median {median:4.0f} ms, {fastest:.0f}-{slowest:.0f} ms"
            )
        mean, median = statistics.fmean(service) * 1e3, statistics.median(service) * 1e3
        print(
            f"  {'items_record_scores':<22} mean {mean:4.0f} ms a chunk "
            f"({mean / args.chunk_size:.2f} ms an item), median {median:4.0f} ms "
            "(the whole service: lock and read, transitions, write, revisions)"
        )
        # Means, not medians: a chunk now and then pays for flushing the trigram index's
        # pending list, which every chunk fills, whichever way it writes.
        baseline, mine = (statistics.fmean(v) for v in seconds.values())
        print(f"bulk_update_fields: {baseline / mine:.1f}x faster than QuerySet.bulk_update")


if __name__ == "__main__":
    main()
