"""Roles (SPEC §8): admins are staff users, reviewers are members of the `reviewers` group."""

import functools

from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import UserPassesTestMixin
from django.db.models import Exists, OuterRef, QuerySet
from rest_framework.permissions import BasePermission

REVIEWERS_GROUP = "reviewers"
# Where is_reviewer finds the answer on a user that was loaded with it (users_with_roles).
REVIEWER_ATTRIBUTE = "_vad_is_reviewer"


@functools.cache
def users_with_roles() -> QuerySet:
    """Users with whether each is a reviewer, read in the same query (an EXISTS on the
    group membership): what the authentication backends load a session's user with.

    Built once per process and never evaluated itself (callers chain `.get()`, a copy):
    building the annotation took 0.45 ms of CPU, every request."""
    user_model = get_user_model()
    membership = user_model.groups.through.objects.filter(
        user_id=OuterRef("pk"), group__name=REVIEWERS_GROUP
    )
    return user_model._default_manager.annotate(**{REVIEWER_ATTRIBUTE: Exists(membership)})


def is_admin(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def is_reviewer(user) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    cached = getattr(user, REVIEWER_ATTRIBUTE, None)
    if cached is None:  # a user not loaded by the backends (just logged in, or made in code)
        cached = user.groups.filter(name=REVIEWERS_GROUP).exists()
        setattr(user, REVIEWER_ATTRIBUTE, cached)
    return cached


def is_admin_or_reviewer(user) -> bool:
    return is_admin(user) or is_reviewer(user)


class IsAdmin(BasePermission):
    message = "Only admins may do this."

    def has_permission(self, request, view) -> bool:
        return is_admin(request.user)


class IsAdminOrReviewer(BasePermission):
    message = "Only reviewers and admins may do this."

    def has_permission(self, request, view) -> bool:
        return is_admin_or_reviewer(request.user)


class AdminRequiredMixin(UserPassesTestMixin):
    """Pages for admins; anyone else logged in gets 403, anonymous users the login page."""

    raise_exception = False

    def test_func(self) -> bool:
        return is_admin(self.request.user)


class ReviewerRequiredMixin(UserPassesTestMixin):
    def test_func(self) -> bool:
        return is_admin_or_reviewer(self.request.user)
