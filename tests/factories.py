"""Real objects for tests: saved rows in the real database, built the way the app builds them."""

import itertools

from annotation.hashing import content_hash
from annotation.models import Item, Source, Status
from annotation.services import user_create

_counter = itertools.count(1)


def make_user(*, role: str = "reviewer", username: str | None = None, password: str = "pw-123456"):
    user, _ = user_create(
        username=username or f"{role}{next(_counter)}", role=role, password=password
    )
    return user


def make_item(**fields) -> Item:
    n = next(_counter)
    values = {
        "instruction": f"如何看待诚信？（{n}）",
        "input": "",
        "output": f"诚信是立身之本。（{n}）",
        "source": Source.MANUAL,
        "categorization": "",
        "status": Status.CANDIDATE,
    }
    values.update(fields)
    values.setdefault(
        "content_hash",
        content_hash(
            **{k: values[k] for k in ("instruction", "input", "output", "source", "categorization")}
        ),
    )
    return Item.objects.create(**values)


def vad_record(n: int, **changes) -> dict:
    """A VAD record (SPEC §1) as an import file holds it; ``changes`` replace or add keys."""
    return {
        "instruction": f"如何看待诚信？（{n}）",
        "input": "",
        "output": f"诚信是立身之本。（{n}）",
        "source": "manual",
        "categorization": "person",
        **changes,
    }
