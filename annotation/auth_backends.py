"""Login throttling (django-axes) for the two login forms, /accounts/login/ and /admin/login/.

Axes' backend refuses an `authenticate()` call without a request; calls without one are not
a login form (scripts, `manage.py` commands, the test client's `login()`), so they are left
to the next backend instead of failing.
"""

from axes.backends import AxesStandaloneBackend


class LoginAttemptBackend(AxesStandaloneBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
