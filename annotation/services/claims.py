"""Review claims (SPEC §7): who holds an item in review, and for how long.

A claim is `claimed_by` and `claim_expires_at` on the item. It never changes the item's
version. Writes check it here (only the holder may change a held item) and renew it, so that
a reviewer who keeps working keeps their item; an expired claim returns the item to the queue.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from ..errors import ClaimedByOther
from ..models import Item, Status


def claim_lease(lease_seconds: int | None = None) -> timedelta:
    return timedelta(seconds=lease_seconds or settings.VAD_REVIEW_LEASE_SECONDS)


def claim_is_live(item: Item, *, now: datetime | None = None) -> bool:
    return (
        item.status == Status.IN_REVIEW
        and item.claimed_by_id is not None
        and item.claim_expires_at is not None
        and item.claim_expires_at > (now or timezone.now())
    )


def claim_check(*, item: Item, user) -> None:
    """Raise ClaimedByOther when someone other than `user` holds `item` (a live claim)."""
    if claim_is_live(item) and item.claimed_by_id != user.pk:
        holder = (
            get_user_model()
            .objects.filter(pk=item.claimed_by_id)
            .values_list("username", flat=True)
            .first()
        )
        raise ClaimedByOther(
            item_id=item.pk, holder=holder or "?", expires_at=item.claim_expires_at
        )


def claims_renew(*, user, lease_seconds: int | None = None) -> datetime:
    """Extend the lease of what `user` holds (every write of theirs counts as activity)."""
    expires = timezone.now() + claim_lease(lease_seconds)
    Item.objects.filter(status=Status.IN_REVIEW, claimed_by=user).update(claim_expires_at=expires)
    return expires


def claims_release(*, user, exclude_item_id: int | None = None) -> int:
    """Give back what `user` holds (all of it, or all but one item)."""
    held = Item.objects.filter(status=Status.IN_REVIEW, claimed_by=user)
    if exclude_item_id is not None:
        held = held.exclude(pk=exclude_item_id)
    return held.update(claimed_by=None, claim_expires_at=None)
