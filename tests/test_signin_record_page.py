"""The sign-in record's page: the province reads every row and lifts lockouts; an office's administrator reads
its own people's rows; the page is keyboard-usable and passes the accessibility audit in Chromium."""

import pytest
from django.test import Client

from pilots.dashboard.browser import chromium, chromium_available
from smartcity.models import LoginLockout, SignInEvent
from tests.factories import PASSWORD, OrganisationFactory, PrefectureFactory, member
from tests.helpers import missing_tool
from tests.test_dashboard_pages import AXE, AXE_RUN

PAGE = "/accounts/sign-ins/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def failed_sign_in(username, address="203.0.113.7"):
    Client(REMOTE_ADDR=address).post("/accounts/login/", {"username": username, "password": "not-the-password"})


@pytest.fixture
def world(db):
    chengdu = OrganisationFactory(kind="prefecture", prefecture=PrefectureFactory(code="510100", name_zh="成都市"))
    luzhou = OrganisationFactory(kind="prefecture", prefecture=PrefectureFactory(code="510500", name_zh="泸州市"))
    province = OrganisationFactory(code="province")
    member("reporter", chengdu, username="pref-510100")
    member("reporter", luzhou, username="pref-510500")
    return {
        "province_admin": member("admin", province, username="sheng-admin"),
        "reviewer": member("reviewer", province, username="sheng-shenhe"),
        "chengdu_admin": member("admin", chengdu, username="chengdu-admin"),
        "viewer": member("viewer", province, username="sheng-viewer"),
    }


def test_the_province_reads_every_failed_sign_in_and_lifts_a_lockout(world, settings):
    for _ in range(settings.LOGIN_LOCKOUT_THRESHOLD):
        failed_sign_in("pref-510100")
    failed_sign_in("pref-510500")
    admin = signed_in(world["province_admin"])

    page = admin.get(PAGE, HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = page.content.decode()

    assert page.status_code == 200
    assert text.count("pref-510100") >= settings.LOGIN_LOCKOUT_THRESHOLD and "pref-510500" in text
    assert "密码错误" in text and "登录记录" in text
    lockout = LoginLockout.objects.get()
    assert f'action="/accounts/lockouts/{lockout.pk}/lift/"' in text

    assert admin.post(f"/accounts/lockouts/{lockout.pk}/lift/").status_code == 302
    lockout.refresh_from_db()
    assert lockout.lifted_at is not None
    assert 'id="no-lockouts"' in admin.get(PAGE).content.decode()


def test_the_page_filters_by_user_and_result_and_names_a_bad_date(world):
    failed_sign_in("pref-510100")
    failed_sign_in("pref-510500")
    admin = signed_in(world["province_admin"])

    text = admin.get(PAGE, {"user": "pref-510500", "result": "failure"}).content.decode()
    assert "pref-510500" in text and "<td>pref-510100</td>" not in text
    bad = admin.get(PAGE, {"date_from": "yesterday"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'role="alert"' in bad and "<td>pref-510500</td>" not in bad


def test_an_office_administrator_reads_its_own_people_and_no_lockouts(world, settings):
    for _ in range(settings.LOGIN_LOCKOUT_THRESHOLD):
        failed_sign_in("pref-510500")
    failed_sign_in("pref-510100")
    office = signed_in(world["chengdu_admin"])

    text = office.get(PAGE).content.decode()

    assert "<td>pref-510100</td>" in text and "pref-510500" not in text and "lockouts-heading" not in text
    assert office.post(f"/accounts/lockouts/{LoginLockout.objects.get().pk}/lift/").status_code == 404
    assert signed_in(world["reviewer"]).post(f"/accounts/lockouts/{LoginLockout.objects.get().pk}/lift/"
                                             ).status_code == 403


@pytest.mark.parametrize("who", ["viewer", None])
def test_others_do_not_read_the_page(world, who):
    client = signed_in(world[who]) if who else Client()
    response = client.get(PAGE)
    assert response.status_code == (403 if who else 302)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_page_passes_the_accessibility_audit_and_works_by_keyboard(live_server, settings, monkeypatch):
    if not chromium_available() or not AXE.exists():
        missing_tool("/usr/bin/chromium or node_modules/axe-core is missing")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    province = OrganisationFactory(code="province")
    member("reporter", username="pref-510100")
    member("admin", province, username="sheng-admin")
    for _ in range(settings.LOGIN_LOCKOUT_THRESHOLD):
        failed_sign_in("pref-510100")

    with chromium() as browser:
        page = browser.new_context(locale="zh-CN").new_page()
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{live_server.url}/accounts/login/?next={PAGE}")
        page.fill("#id_username", "sheng-admin")
        page.fill("#id_password", PASSWORD)
        page.press("#id_password", "Enter")
        page.wait_for_selector("#sign-ins")
        page.evaluate(AXE.read_text(encoding="utf-8"))
        assert page.evaluate(AXE_RUN) == [], "sign-in record (zh)"

        # By keyboard: focus the lift button with Tab and press Enter.
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.closest('#lockouts') !== null"):
                break
        page.keyboard.press("Enter")
        page.wait_for_selector("#no-lockouts")
        assert LoginLockout.objects.get().lifted_at is not None

        page.click("button[name=language][value=en]")
        page.wait_for_selector("#sign-ins")
        assert page.locator("html").get_attribute("lang") == "en"
        page.evaluate(AXE.read_text(encoding="utf-8"))
        assert page.evaluate(AXE_RUN) == [], "sign-in record (en)"
        assert SignInEvent.objects.filter(username="sheng-admin", result="success").exists()
    assert errors == []
