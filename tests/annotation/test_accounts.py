"""Accounts under attack: weak passwords and hostile usernames refused, repeated failed logins
locked out, password reset only where mail can be sent."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from annotation.services import user_create
from annotation.services.users import UserInvalid
from tests.factories import make_user

pytestmark = pytest.mark.django_db

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
GOOD_PASSWORD = "correct-horse-battery-9"


# Creating users: the service, the command and the Django admin.


@pytest.mark.parametrize("password", ["1", "password", "12345678"])
def test_user_create_applies_the_password_validators(password):
    with pytest.raises(UserInvalid) as caught:
        user_create(username="weak", role="reviewer", password=password)
    assert caught.value.field == "password"
    assert not get_user_model().objects.filter(username="weak").exists()


@pytest.mark.parametrize("username", [HOSTILE_NAME, "a b", "x" * 151, ""])
def test_user_create_refuses_usernames_outside_djangos_characters(username):
    with pytest.raises(UserInvalid) as caught:
        user_create(username=username, role="admin", password=GOOD_PASSWORD)
    assert caught.value.field == "username"
    assert not get_user_model().objects.exists()


def test_a_password_like_the_username_is_refused():
    with pytest.raises(UserInvalid, match="password"):
        user_create(username="zhangwei2024", role="reviewer", password="zhangwei2024")


def test_user_create_accepts_a_good_name_and_password():
    user, password = user_create(username="li.na@lab", role="reviewer", password=GOOD_PASSWORD)
    assert user.check_password(GOOD_PASSWORD) and password == GOOD_PASSWORD


def test_the_create_user_command_refuses_a_weak_password_and_a_hostile_name():
    with pytest.raises(CommandError, match="password"):
        call_command("create_user", "ada", "--role", "admin", "--password", "1")
    with pytest.raises(CommandError, match="username"):
        call_command("create_user", HOSTILE_NAME, "--role", "admin", stdout=io.StringIO())
    assert not get_user_model().objects.exists()


def _admin_client() -> Client:
    client = Client()
    client.force_login(make_user(role="admin", username="root"))
    return client


def test_the_admin_add_user_form_refuses_a_weak_password_and_a_hostile_name():
    client = _admin_client()
    for username, password in (("weakling", "1"), (HOSTILE_NAME, GOOD_PASSWORD)):
        response = client.post(
            "/admin/auth/user/add/",
            {
                "username": username,
                "password1": password,
                "password2": password,
                "usable_password": "true",
            },
        )
        assert response.status_code == 200  # the form again, with its errors
        assert response.context["adminform"].form.errors
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["root"]


def test_the_admin_password_change_form_refuses_a_weak_password():
    client = _admin_client()
    victim = make_user(role="reviewer", username="victim")
    response = client.post(
        f"/admin/auth/user/{victim.pk}/password/",
        {"password1": "1", "password2": "1", "usable_password": "true"},
    )
    assert response.status_code == 200
    victim.refresh_from_db()
    assert victim.check_password("pw-123456")


# Repeated failed logins.


LOGIN_FORMS = ["/accounts/login/", "/admin/login/"]


@pytest.mark.parametrize("url", LOGIN_FORMS)
def test_repeated_wrong_passwords_lock_the_account_out_of_that_form(url, settings):
    make_user(role="admin", username="target", password=GOOD_PASSWORD)
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(url, {"username": "target", "password": "guess"})
        assert response.status_code == 200  # the form again, not yet locked
    assert client.post(url, {"username": "target", "password": "guess"}).status_code == 429
    locked = client.post(url, {"username": "target", "password": GOOD_PASSWORD})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    assert "登录失败次数过多" in locked.content.decode()  # the lockout page, translated


@pytest.mark.parametrize("url", LOGIN_FORMS)
def test_a_few_wrong_passwords_do_not_lock_anyone_out(url, settings):
    make_user(role="admin", username="typo", password=GOOD_PASSWORD)
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(url, {"username": "typo", "password": "guess"})
    response = client.post(url, {"username": "typo", "password": GOOD_PASSWORD})
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_the_lockout_of_one_user_does_not_lock_another(settings):
    make_user(role="reviewer", username="other", password=GOOD_PASSWORD)
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        client.post("/accounts/login/", {"username": "target", "password": "guess"})
    response = client.post("/accounts/login/", {"username": "other", "password": GOOD_PASSWORD})
    assert response.status_code == 302


# Password reset.


def test_without_a_mail_server_password_reset_does_not_exist(settings):
    settings.EMAIL_HOST = ""
    client = Client()
    assert client.get("/accounts/password_reset/").status_code == 404
    assert client.post("/accounts/password_reset/", {"email": "a@x.org"}).status_code == 404
    assert "password_reset" not in client.get("/accounts/login/").content.decode()


def test_with_a_mail_server_password_reset_sends_a_mail(settings):
    settings.EMAIL_HOST = "smtp.example.org"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user = make_user(role="reviewer", username="forgetful")
    user.email = "forgetful@example.org"
    user.save()
    client = Client()
    assert "/accounts/password_reset/" in client.get("/accounts/login/").content.decode()
    response = client.post("/accounts/password_reset/", {"email": "forgetful@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and "forgetful@example.org" in mail.outbox[0].to


def test_behind_the_proxy_the_lockout_counts_the_client_address_not_the_proxys(settings):
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_REAL_IP", "REMOTE_ADDR"]  # as set
    # by VAD_BEHIND_PROXY=1; every request below comes from one address, the proxy's.
    make_user(role="reviewer", username="shared", password=GOOD_PASSWORD)
    attacker = Client(HTTP_X_REAL_IP="203.0.113.9")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attacker.post("/accounts/login/", {"username": "shared", "password": "guess"})
    colleague = Client(HTTP_X_REAL_IP="198.51.100.7")  # same proxy, another person
    response = colleague.post("/accounts/login/", {"username": "shared", "password": GOOD_PASSWORD})
    assert response.status_code == 302
    locked = attacker.post("/accounts/login/", {"username": "shared", "password": GOOD_PASSWORD})
    assert locked.status_code == 429


def test_without_a_proxy_a_client_cannot_dodge_the_lockout_with_a_header(settings):
    assert settings.AXES_IPWARE_META_PRECEDENCE_ORDER == ["REMOTE_ADDR"]  # the default
    make_user(role="reviewer", username="dodger", password=GOOD_PASSWORD)
    for n in range(settings.AXES_FAILURE_LIMIT):
        Client(HTTP_X_REAL_IP=f"192.0.2.{n}").post(
            "/accounts/login/", {"username": "dodger", "password": "guess"}
        )
    response = Client(HTTP_X_REAL_IP="192.0.2.200").post(
        "/accounts/login/", {"username": "dodger", "password": GOOD_PASSWORD}
    )
    assert response.status_code == 429
