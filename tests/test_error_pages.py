"""Error pages are the service's own, in every mode; integrators are API-only.

A prefecture clerk who opens another prefecture's page under ``make run`` (DEBUG on) gets the service's
404 page in their language, not Django's debug page listing every URL; the developer who wants the debug
page asks for it with ``DEBUG_ERROR_PAGES``. An integrator's account cannot sign in to the dashboard or the
admin (403, saying why); it uses the API with its token.
"""

from __future__ import annotations


import pytest
from django.test import Client
from django.urls import path

from pilots.dashboard.browser import chromium, chromium_available
from tests.factories import PASSWORD, OrganisationFactory, PrefectureFactory, member
from tests.helpers import client_for, missing_tool

pytestmark = pytest.mark.django_db

CSP = "default-src 'self'; script-src 'self'; style-src 'self'"


def _broken_view(request):
    raise RuntimeError("a bug in a page")


# A URLconf with one broken page and the service's handlers, for the 500 (see ``broken_urlconf``).
from smartcity.urls import handler400, handler403, handler404, handler500  # noqa: E402, F401

urlpatterns = [path("dashboard/broken/", _broken_view), path("api/v1/broken/", _broken_view)]


@pytest.fixture
def debug_on(settings):
    settings.DEBUG = True  # as under `make run`
    settings.DEBUG_ERROR_PAGES = False
    return settings


@pytest.fixture
def offices():
    chengdu = PrefectureFactory(code="510100", name_zh="成都市", name_en="Chengdu")
    PrefectureFactory(code="510500", name_zh="泸州市", name_en="Luzhou")
    clerk = member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu))
    client = Client()
    client.force_login(clerk)
    return client


def _assert_own_page(response, status: int, *texts: str):
    html = response.content.decode()
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert response["Content-Security-Policy"].startswith(CSP)
    assert "URLconf" not in html and "Traceback" not in html and "technical" not in html.lower()
    assert "dashboard/dashboard.css" in html and "<script" not in html and "style=" not in html
    for text in texts:
        assert text in html, text


def test_another_prefectures_page_is_the_services_404_with_debug_on(debug_on, offices):
    _assert_own_page(offices.get("/dashboard/prefectures/510500/"), 404, "页面不存在", 'lang="zh-hans"')
    english = offices.get("/dashboard/prefectures/510500/", HTTP_ACCEPT_LANGUAGE="en")
    _assert_own_page(english, 404, "Page not found", 'lang="en"', "Back to the dashboard")


def test_an_unknown_address_is_the_services_404_and_the_slash_is_still_appended(debug_on, offices):
    _assert_own_page(offices.get("/no-such-page/"), 404, "页面不存在")
    assert offices.get("/dashboard/prefectures/510100").status_code == 301  # APPEND_SLASH still redirects


def test_the_api_answers_json_in_its_error_shape_with_debug_on(debug_on):
    response = Client().get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert {"status", "code", "detail", "errors", "request_id"} <= set(response.json())


def test_a_developer_who_asks_gets_the_debug_page(debug_on, offices):
    debug_on.DEBUG_ERROR_PAGES = True
    response = offices.get("/no-such-page/")
    assert response.status_code == 404 and "URLconf" in response.content.decode()


@pytest.fixture
def broken_urlconf(settings):
    settings.ROOT_URLCONF = __name__
    return settings


@pytest.mark.parametrize("debug", [True, False])
def test_a_broken_page_is_the_services_500_and_is_logged(broken_urlconf, debug, caplog):
    broken_urlconf.DEBUG = debug
    broken_urlconf.DEBUG_ERROR_PAGES = False
    client = Client(raise_request_exception=False)
    _assert_own_page(client.get("/dashboard/broken/", HTTP_ACCEPT_LANGUAGE="en"), 500, "Server error", "Request ID")
    api = client.get("/api/v1/broken/")
    assert api.status_code == 500 and api.json()["code"] == "server_error"
    assert any(record.exc_info and "a bug in a page" in str(record.exc_info[1]) for record in caplog.records)


# --- Integrators are API only -------------------------------------------------------------------------

REASON_ZH = "这是系统集成方账号"
REASON_EN = "This is an integrator account"


@pytest.fixture
def integrator():
    return member("integrator", username="city-data-hub")


@pytest.mark.parametrize("language, reason", [("zh-hans", REASON_ZH), ("en", REASON_EN)])
def test_an_integrator_cannot_sign_in_to_the_dashboard(integrator, language, reason):
    client = Client()
    response = client.post("/accounts/login/", {"username": "city-data-hub", "password": PASSWORD,
                                                "next": "/dashboard/"}, HTTP_ACCEPT_LANGUAGE=language)
    _assert_own_page(response, 403, reason)
    assert "_auth_user_id" not in client.session  # refused, not signed in
    assert client.get("/dashboard/").status_code == 302  # to the sign-in page


@pytest.mark.parametrize("page", ["/dashboard/", "/dashboard/prefectures/510100/", "/dashboard/export/prefectures.csv",
                                  "/admin/", "/accounts/login/"])
def test_no_session_page_opens_for_an_integrator(integrator, page):
    PrefectureFactory(code="510100")
    integrator.is_staff = True  # even one given the admin by mistake
    integrator.save()
    client = Client()
    client.force_login(integrator)
    _assert_own_page(client.get(page), 403, REASON_ZH)


def test_an_integrator_cannot_sign_in_to_the_admin(integrator):
    integrator.is_staff = True
    integrator.save()
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": "city-data-hub", "password": PASSWORD,
                                                          "next": "/admin/"})
    _assert_own_page(response, 403, REASON_ZH)
    assert "_auth_user_id" not in client.session


def test_the_integrator_still_uses_the_api_with_its_token(integrator):
    PrefectureFactory(code="510100")
    assert client_for(integrator).get("/api/v1/prefectures/").status_code == 200


def test_a_person_still_signs_in(offices):
    client = Client()
    member("viewer", username="province-viewer")
    response = client.post("/accounts/login/", {"username": "province-viewer", "password": PASSWORD,
                                                "next": "/dashboard/"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"


# --- In a browser ------------------------------------------------------------------------------------

@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_clerk_sees_the_services_404_in_chromium_and_can_leave_it_by_keyboard(live_server, settings, monkeypatch):
    if not chromium_available():
        missing_tool("/usr/bin/chromium is missing (apt-get install -y chromium)")
    settings.DEBUG = True
    settings.DEBUG_ERROR_PAGES = False
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    chengdu = PrefectureFactory(code="510100", name_zh="成都市")
    PrefectureFactory(code="510500", name_zh="泸州市")
    member("reporter", OrganisationFactory(kind="prefecture", prefecture=chengdu), username="pref-clerk")
    with chromium() as browser:
        page = browser.new_page(locale="en-GB")
        refused, failed = [], []
        page.on("console", lambda message: refused.append(message.text) if "Content Security" in message.text else None)
        page.on("response", lambda r: failed.append(r.url) if r.status >= 400 and r.request.resource_type != "document"
                else None)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", "pref-clerk")
        page.fill("#id_password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url("**/dashboard/prefectures/510100/")
        response = page.goto(f"{live_server.url}/dashboard/prefectures/510500/")
        assert response.status == 404
        assert page.locator("h1").inner_text().startswith("Page not found")
        assert page.locator("[role=alert]").count() == 1
        assert "URLconf" not in page.content()
        assert refused == [] and failed == []  # nothing refused by the CSP, the stylesheet found
        assert page.evaluate("getComputedStyle(document.querySelector('header.top')).display") == "flex"
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.getAttribute('href')") == "/dashboard/"
        page.keyboard.press("Enter")
        page.wait_for_url("**/dashboard/prefectures/510100/")
