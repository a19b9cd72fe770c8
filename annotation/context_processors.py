from .permissions import is_admin, is_reviewer


def roles(request) -> dict:
    user = getattr(request, "user", None)
    return {"user_is_admin": is_admin(user), "user_is_reviewer": is_reviewer(user)}
