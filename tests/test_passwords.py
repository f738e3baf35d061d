"""A clerk changes their password, or resets a forgotten one by e-mail from the sign-in page; the reset
never tells a stranger whether an account exists, and its link works once."""

import re

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from smartcity.auth.passwords import RESET_TASK
from smartcity.models import OutboxMessage
from smartcity.tasks import send_password_reset
from tests.factories import PASSWORD, member

pytestmark = pytest.mark.django_db

RESET = "/accounts/password/reset/"
NEW_PASSWORD = "Jinjiang-river-2021"


@pytest.fixture
def clerk():
    return member("reporter", username="pref-510100", email="clerk@chengdu.example.gov.cn")


def ask_for_reset(email, language="zh-hans"):
    response = Client(HTTP_ACCEPT_LANGUAGE=language).post(RESET, {"email": email})
    return response


def run_the_worker():
    """What the Celery worker does with the outbox messages the requests left."""
    for message in OutboxMessage.objects.filter(task=RESET_TASK).order_by("pk"):
        send_password_reset(**message.kwargs)


def token_exchange(password):
    return APIClient().post("/api/v1/auth/token/", {"username": "pref-510100", "password": password}, format="json")


def the_link(message) -> str:
    return re.search(r"http://\S+/accounts/password/reset/\S+/\S+/", message.body).group(0)


def test_a_clerk_resets_a_forgotten_password_through_the_link_in_the_mail(clerk, settings):
    settings.SITE_URL = "http://tracker.example.gov.cn"
    sign_in_page = Client().get("/accounts/login/").content.decode()
    assert 'href="/accounts/password/reset/"' in sign_in_page

    response = ask_for_reset("clerk@chengdu.example.gov.cn")
    assert response.status_code == 302 and response["Location"] == "/accounts/password/reset/sent/"
    run_the_worker()

    [message] = mail.outbox
    assert message.to == ["clerk@chengdu.example.gov.cn"]
    assert "pref-510100" in message.body and "新密码" in message.subject
    link = the_link(message)
    assert link.startswith("http://tracker.example.gov.cn/accounts/password/reset/")  # SITE_URL, not the Host
    path = link.removeprefix("http://tracker.example.gov.cn")

    browser = Client()
    form = browser.get(path, follow=True)
    assert form.status_code == 200 and 'id="password-set"' in form.content.decode()
    set_url = form.redirect_chain[-1][0]
    short = browser.post(set_url, {"new_password1": "short-pw", "new_password2": "short-pw"})
    assert short.status_code == 200 and "12" in short.content.decode()  # the validator names the rule
    done = browser.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/accounts/password/reset/complete/"

    assert token_exchange(NEW_PASSWORD).status_code == 201
    assert token_exchange(PASSWORD).status_code == 401
    reused = Client().get(path, follow=True)
    assert 'id="link-invalid"' in reused.content.decode()  # one use only


def test_a_reset_for_an_unknown_address_answers_exactly_the_same_and_sends_nothing(clerk):
    known = ask_for_reset("clerk@chengdu.example.gov.cn")
    unknown = ask_for_reset("nobody@example.gov.cn")
    run_the_worker()

    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert OutboxMessage.objects.filter(task=RESET_TASK).count() == 2  # the same work either way
    assert [m.to for m in mail.outbox] == [["clerk@chengdu.example.gov.cn"]]
    sent = Client().get(known["Location"]).content.decode()
    assert "如有账号使用该邮箱" in sent


def test_a_deactivated_account_gets_no_reset_link(clerk):
    clerk.is_active = False
    clerk.save()

    ask_for_reset("clerk@chengdu.example.gov.cn")
    run_the_worker()

    assert mail.outbox == []


def test_the_reset_mail_speaks_the_language_of_the_page(clerk):
    ask_for_reset("clerk@chengdu.example.gov.cn", language="en")
    run_the_worker()

    [message] = mail.outbox
    assert message.subject == "Set a new password for smartcity-tracker"
    assert "asked to set a new password for the account pref-510100" in message.body


def test_a_tampered_link_does_not_work(clerk):
    ask_for_reset("clerk@chengdu.example.gov.cn")
    run_the_worker()
    path = re.sub(r"^http://[^/]+", "", the_link(mail.outbox[0]))
    tampered = path[:-3] + ("aa/" if not path.endswith("aa/") else "bb/")

    assert 'id="link-invalid"' in Client().get(tampered, follow=True).content.decode()


def test_a_clerk_changes_their_own_password_and_other_sessions_end(clerk):
    browser, elsewhere = Client(), Client()
    browser.force_login(clerk)
    elsewhere.force_login(clerk)
    page = browser.get("/accounts/password/change/")
    assert page.status_code == 200

    wrong_old = browser.post("/accounts/password/change/", {
        "old_password": "not-my-password", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    too_short = browser.post("/accounts/password/change/", {
        "old_password": PASSWORD, "new_password1": "abc123", "new_password2": "abc123"})
    assert wrong_old.status_code == 200 and 'id="id_old_password-errors"' in wrong_old.content.decode()
    assert too_short.status_code == 200 and 'id="id_new_password2-errors"' in too_short.content.decode()
    assert token_exchange(PASSWORD).status_code == 201  # nothing changed yet

    done = browser.post("/accounts/password/change/", {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert done.status_code == 302 and done["Location"] == "/accounts/password/change/done/"
    assert browser.get("/accounts/password/change/done/").status_code == 200  # this session goes on
    assert elsewhere.get("/dashboard/").status_code == 302  # the other one is signed out
    assert token_exchange(NEW_PASSWORD).status_code == 201


def test_changing_a_password_needs_a_session():
    response = Client().get("/accounts/password/change/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_validators_ask_for_twelve_characters(settings):
    from django.contrib.auth.password_validation import get_default_password_validators

    [length] = [v for v in get_default_password_validators() if type(v).__name__ == "MinimumLengthValidator"]
    assert length.min_length == 12


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_password_pages_pass_the_accessibility_audit_and_work_by_keyboard(live_server, monkeypatch):
    from pilots.dashboard.browser import chromium, chromium_available
    from tests.helpers import missing_tool
    from tests.test_dashboard_pages import AXE, AXE_RUN

    if not chromium_available() or not AXE.exists():
        missing_tool("/usr/bin/chromium or node_modules/axe-core is missing")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    member("reporter", username="pref-510100", email="clerk@chengdu.example.gov.cn")

    def audit(page, what):
        page.evaluate(AXE.read_text(encoding="utf-8"))
        assert page.evaluate(AXE_RUN) == [], what

    with chromium() as browser:
        for locale in ("zh-CN", "en-GB"):
            page = browser.new_context(locale=locale).new_page()
            page.goto(f"{live_server.url}/accounts/login/")
            page.focus("#id_password")
            page.keyboard.press("Tab")
            page.keyboard.press("Tab")  # past the sign-in button to the link
            assert page.evaluate("document.activeElement.id") == "forgot-password"
            page.keyboard.press("Enter")
            page.wait_for_selector("#password-reset")
            audit(page, f"reset form {locale}")
            page.fill("#id_email", "clerk@chengdu.example.gov.cn")
            page.keyboard.press("Enter")
            page.wait_for_selector("#reset-sent")
            audit(page, f"reset sent {locale}")

            page.goto(f"{live_server.url}/accounts/login/?next=/accounts/password/change/")
            page.fill("#id_username", "pref-510100")
            page.fill("#id_password", PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_selector("#password-change")
            page.fill("#id_old_password", PASSWORD)
            page.fill("#id_new_password1", "short")
            page.fill("#id_new_password2", "short")
            page.keyboard.press("Enter")
            page.wait_for_selector("#id_new_password2-errors")
            audit(page, f"change form with errors {locale}")
            page.context.close()
