from django.utils.functional import SimpleLazyObject

from .permissions import is_admin, is_reviewer
from .selectors import demo_scores_present


def roles(request) -> dict:
    user = getattr(request, "user", None)
    return {"user_is_admin": is_admin(user), "user_is_reviewer": is_reviewer(user)}


def demo_scores(request) -> dict:
    """`demo_scores`: whether the page must say that scores come from a demo model. Lazy:
    asked only by pages that show it (base.html), never by the htmx partials."""
    return {"demo_scores": SimpleLazyObject(demo_scores_present)}
