"""Authentication backends: login throttling (django-axes) for the two login forms,
/accounts/login/ and /admin/login/, and users loaded with their review role.

Axes' backend refuses an `authenticate()` call without a request; calls without one are not
a login form (scripts, `manage.py` commands, the test client's `login()`), so they are left
to the next backend instead of failing.
"""

from axes.backends import AxesStandaloneBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from .permissions import users_with_roles


class RoleLoadingMixin:
    """`get_user` (the session's user, loaded on every request) reads whether the user is a
    reviewer in the same query, so the permission checks of the request make none of their
    own: one query fewer per request, three per review decision (claim, item, accept). Each
    request still reads the membership afresh, so removing a reviewer takes effect at once."""

    def get_user(self, user_id):
        try:
            user = users_with_roles().get(pk=user_id)
        except get_user_model().DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


class LoginAttemptBackend(AxesStandaloneBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class RoleModelBackend(RoleLoadingMixin, ModelBackend):
    """Django's ModelBackend (username and password), its users loaded with their role: the
    backend every session names (axes' backend only refuses locked-out logins and loads no
    users; the test client's force_login picks the first backend that does)."""
