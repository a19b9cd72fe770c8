"""The one place that says which status may follow which (SPEC §2)."""

from .models import Status

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.SEED: frozenset(),
    Status.PENDING_TRANSLATION: frozenset({Status.CANDIDATE, Status.FILTERED_OUT}),
    Status.PENDING_EVOLUTION: frozenset({Status.CANDIDATE, Status.FILTERED_OUT}),
    Status.CANDIDATE: frozenset({Status.SCORED, Status.IN_REVIEW, Status.FILTERED_OUT}),
    Status.SCORED: frozenset({Status.IN_REVIEW, Status.FILTERED_OUT}),
    Status.FILTERED_OUT: frozenset({Status.IN_REVIEW}),
    Status.IN_REVIEW: frozenset({Status.ACCEPTED, Status.REJECTED}),
    Status.ACCEPTED: frozenset({Status.IN_REVIEW, Status.REJECTED}),
    Status.REJECTED: frozenset({Status.IN_REVIEW}),
}


class InvalidTransition(Exception):
    def __init__(self, *, item_id: int | None, current: str, target: str) -> None:
        self.item_id = item_id
        self.current = current
        self.target = target
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS.get(current, ()))) or "none"
        super().__init__(
            f"item {item_id}: cannot go from {current} to {target} (allowed: {allowed})"
        )


def can_transition(current: str, target: str) -> bool:
    return target in ALLOWED_TRANSITIONS.get(current, frozenset())


def check_transition(*, item_id: int | None, current: str, target: str) -> None:
    if not can_transition(current, target):
        raise InvalidTransition(item_id=item_id, current=current, target=target)
