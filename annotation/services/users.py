import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from ..permissions import REVIEWERS_GROUP

ROLES = ("admin", "reviewer")


@transaction.atomic
def user_create(
    *, username: str, role: str, password: str | None = None, email: str = ""
) -> tuple[object, str]:
    """Create an admin (staff) or a reviewer; returns the user and the password it got."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ValueError(f"user {username!r} already exists")
    password = password or secrets.token_urlsafe(12)
    user = user_model.objects.create_user(
        username=username,
        email=email,
        password=password,
        is_staff=role == "admin",
        is_superuser=role == "admin",
    )
    if role == "reviewer":
        group, _ = Group.objects.get_or_create(name=REVIEWERS_GROUP)
        user.groups.add(group)
    return user, password
