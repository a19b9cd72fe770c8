import secrets

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ..permissions import REVIEWERS_GROUP

ROLES = ("admin", "reviewer")


class UserInvalid(ValueError):
    """A username or password the rules refuse; `field` names which."""

    def __init__(self, field: str, messages: list[str]) -> None:
        self.field = field
        self.messages = messages
        super().__init__(f"{field}: {' '.join(messages)}")


def _check_username(username: str) -> None:
    """The same rules as the Django admin's user form: the model field's length and
    characters (letters, digits and @ . + - _), so no markup ever becomes a username."""
    field = get_user_model()._meta.get_field("username")
    try:
        field.clean(username, None)
    except ValidationError as exc:
        raise UserInvalid("username", list(exc.messages)) from None


@transaction.atomic
def user_create(
    *, username: str, role: str, password: str | None = None, email: str = ""
) -> tuple[object, str]:
    """Create an admin (staff) or a reviewer; returns the user and the password it got.

    The username and the password pass the same checks as in the Django admin
    (AUTH_PASSWORD_VALIDATORS: length, common passwords, likeness to the username)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    user_model = get_user_model()
    _check_username(username)
    if user_model.objects.filter(username=username).exists():
        raise UserInvalid("username", [_("user %(name)r already exists") % {"name": username}])
    password = password or secrets.token_urlsafe(12)
    candidate = user_model(username=username, email=email)
    try:
        password_validation.validate_password(password, user=candidate)
    except ValidationError as exc:
        raise UserInvalid("password", list(exc.messages)) from None
    user = user_model.objects.create_user(
        username=username,
        email=email,
        password=password,
        is_staff=role == "admin",
        is_superuser=role == "admin",
    )
    if role == "reviewer":
        group, _created = Group.objects.get_or_create(name=REVIEWERS_GROUP)
        user.groups.add(group)
    return user, password
