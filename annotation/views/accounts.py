"""/accounts/: Django's login, logout and password pages, with password reset only where
mail can be sent.

Without a mail server (EMAIL_HOST unset) Django's reset form would say "sent" and send
nothing; so its pages answer 404 and the login page offers no link. The check is made per
request, so settings changed at run time (tests) take effect.
"""

from functools import wraps

from django.conf import settings
from django.contrib.auth import urls as auth_urls
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.urls import URLPattern


def password_reset_enabled() -> bool:
    return bool(settings.EMAIL_HOST)


def _needs_mail(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not password_reset_enabled():
            raise Http404("password reset needs a mail server (EMAIL_HOST)")
        return view(request, *args, **kwargs)

    return wrapped


class LoginView(auth_views.LoginView):
    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["password_reset_enabled"] = password_reset_enabled()
        return context


def _account_pattern(pattern: URLPattern) -> URLPattern:
    view = pattern.callback
    if pattern.name == "login":
        view = LoginView.as_view()
    elif pattern.name.startswith("password_reset"):
        view = _needs_mail(view)
    return URLPattern(pattern.pattern, view, pattern.default_args, pattern.name)


account_urlpatterns = [_account_pattern(p) for p in auth_urls.urlpatterns]
