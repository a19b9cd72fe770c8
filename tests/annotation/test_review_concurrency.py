"""Concurrent claims on real PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, many threads."""

import threading
from collections import Counter

import pytest
from django.db import connection

from annotation.models import Item, ReviewDecision, Status
from annotation.services import item_accept, review_claim
from tests.factories import make_user

THREADS = 20
ITEMS = 1000


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_twenty_reviewers_claiming_at_once_never_get_the_same_item():
    assert connection.vendor == "postgresql"
    Item.objects.bulk_create(
        Item(
            instruction=f"问题 {n}",
            output=f"回答 {n}",
            source="manual",
            categorization="person",
            status=Status.IN_REVIEW,
            ifd=(n % 97) / 100 if n % 5 else None,
        )
        for n in range(ITEMS)
    )
    reviewers = [make_user(role="reviewer") for _ in range(THREADS)]
    start = threading.Barrier(THREADS)
    claims: list[list[int]] = [[] for _ in range(THREADS)]
    errors: list[BaseException] = []

    def review(index: int) -> None:
        reviewer = reviewers[index]
        try:
            start.wait()
            while True:
                item = review_claim(reviewer=reviewer)
                if item is None:
                    return
                claims[index].append(item.pk)
                item_accept(item_id=item.pk, reviewer=reviewer, version=item.version)
        except BaseException as error:  # reported below, with the thread that raised it
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=review, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors

    claimed = Counter(pk for per_thread in claims for pk in per_thread)
    assert max(claimed.values()) == 1, "an item was claimed twice"
    assert len(claimed) == ITEMS
    # Every reviewer got work: the threads really ran side by side.
    assert sum(1 for per_thread in claims if per_thread) == THREADS
    assert Item.objects.filter(status=Status.ACCEPTED).count() == ITEMS
    assert ReviewDecision.objects.count() == ITEMS
    assert not Item.objects.filter(claimed_by__isnull=False).exists()


@pytest.mark.django_db(transaction=True)
def test_one_reviewer_claiming_from_two_tabs_at_once_holds_one_item():
    for n in range(5):
        Item.objects.create(
            instruction=f"问题 {n}", output=f"回答 {n}", source="manual", status=Status.IN_REVIEW
        )
    reviewer = make_user(role="reviewer")
    tabs = 6
    start = threading.Barrier(tabs)
    got: list[int] = []
    errors: list[BaseException] = []

    def claim() -> None:
        try:
            start.wait()
            got.append(review_claim(reviewer=reviewer).pk)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(tabs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(got) == tabs and len(set(got)) == 1
    assert Item.objects.filter(claimed_by=reviewer).count() == 1
