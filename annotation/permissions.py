"""Roles (SPEC §8): admins are staff users, reviewers are members of the `reviewers` group."""

from django.contrib.auth.mixins import UserPassesTestMixin
from rest_framework.permissions import BasePermission

REVIEWERS_GROUP = "reviewers"


def is_admin(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def is_reviewer(user) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    cached = getattr(user, "_vad_is_reviewer", None)
    if cached is None:
        cached = user.groups.filter(name=REVIEWERS_GROUP).exists()
        user._vad_is_reviewer = cached
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
