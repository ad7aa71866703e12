"""Step-up (RFC 9470) in headless Debian chromium against the example project's guarded
endpoints (a sign-in at most 5 minutes old): the JS client asks the app once (onStepUp)
however many requests and tabs hit a guard, re-authenticates the same session and replays;
the demo page's dialog in front of "change password", "delete my account" and "sign out other
devices".

Each test starts from a session whose user signed in an hour ago: its stored access token is
swapped for one of the same session with that ``auth_time`` (signed by the server's key), so
the guards refuse it at once.
"""

import json
import time
from datetime import timedelta

import jwt
import pytest
from django.contrib.auth import get_user_model

from django_doubletoken.models import DeviceSession

from .browser import browser  # noqa: F401  (fixture)
from .helpers import access_claims, craft
from .test_browser_demo import server, sign_in  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_MODULE = "/static/django_doubletoken/doubletoken.js"
LIFETIME = 120


@pytest.fixture
def roomy(server, settings):  # noqa: F811
    # Tokens that outlive the test: a refresh would bring back the login's (fresh) auth_time.
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN,
                            "ACCESS_TOKEN_LIFETIME": timedelta(seconds=LIFETIME)}
    return server


def age_the_session(page):
    """The stored access token becomes one of the same session signed in an hour ago."""
    record = json.loads(page.evaluate("localStorage.getItem('doubletoken')"))
    original = jwt.decode(record["access"], options={"verify_signature": False})
    now = int(time.time())
    extra = {name: original[name] for name in ("cnf", "acr", "amr") if name in original}
    record["access"] = craft(access_claims(
        {"access": record["access"], "session_id": record["sessionId"]},
        iat=now, exp=now + LIFETIME, client=original["client"], auth_time=now - 3600, **extra))
    page.evaluate("(record) => localStorage.setItem('doubletoken', JSON.stringify(record))",
                  record)
    return record["access"]


def auth_time(page):
    access = json.loads(page.evaluate("localStorage.getItem('doubletoken')"))["access"]
    return jwt.decode(access, options={"verify_signature": False})["auth_time"]


def test_ten_guarded_calls_prompt_once_and_all_go_through(roomy, browser, user,  # noqa: F811
                                                          password):
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, roomy.url, password)
    session_id = page.inner_text("#session")
    aged = age_the_session(page)
    # Another page of the origin (a tab with a client of its own, on the same storage) fires
    # ten calls at the guarded logout-others/ at once.
    tab = context.new_page()
    tab.goto(f"{roomy.url}{CLIENT_MODULE}")
    result = tab.evaluate("""async ([module, password]) => {
      const { createClient } = await import(module);
      const asked = [];
      const client = createClient({
        storage: "local",
        onStepUp: async (challenge) => {
          asked.push(challenge);
          await new Promise((resolve) => setTimeout(resolve, 200)); // someone typing
          await client.reauthenticate(password);
        },
      });
      const calls = Array.from({ length: 10 }, () =>
        client.fetch("/api/auth/logout-others/", { method: "POST" }));
      const statuses = (await Promise.all(calls)).map((response) => response.status);
      return { statuses, asked, session: client.sessionId() };
    }""", [CLIENT_MODULE, password])

    assert result["statuses"] == [200] * 10
    assert result["asked"] == [{"maxAge": 300, "acrValues": None}]
    assert result["session"] == session_id  # re-authenticated, not a new login
    assert auth_time(page) > time.time() - 60
    assert json.loads(page.evaluate("localStorage.getItem('doubletoken')"))["access"] != aged
    assert DeviceSession.objects.filter(revoked_at__isnull=True).count() == 1
    # The demo tab saw new tokens and asked nothing.
    assert page.locator("#log [data-kind=step-up]").count() == 0
    assert page.get_attribute("#step-up", "open") is None
    context.close()


def _dialog_open(page):
    return page.evaluate("document.querySelector('#step-up').open")


def test_the_demo_asks_once_across_tabs_then_changes_the_password_and_signs_out_the_others(
    roomy, browser, user, password  # noqa: F811
):
    phone = browser.new_context().new_page()
    sign_in(phone, roomy.url, password, device="Phone")
    context = browser.new_context()
    first = context.new_page()
    sign_in(first, roomy.url, password, device="Laptop")
    second = context.new_page()
    second.goto(f"{roomy.url}/")
    second.wait_for_selector("body[data-state=signed-in]")
    age_the_session(first)

    # Both tabs hit a guard at once: the first changes the password, the second signs out
    # the other devices.
    first.fill("#old-password", password)
    first.fill("#new-password", "a much newer passphrase")
    first.evaluate("document.querySelector('#password-form button[type=submit]').click()")
    second.evaluate("document.querySelector('#logout-others').click()")

    # One dialog, in whichever tab got there first; the other tab waits for it.
    deadline = time.monotonic() + 15
    while not (_dialog_open(first) or _dialog_open(second)):
        assert time.monotonic() < deadline, "no step-up dialog in either tab"
        first.wait_for_timeout(50)
    asking = first if _dialog_open(first) else second
    first.wait_for_timeout(500)  # time for a second dialog, were there one
    waiting = second if asking is first else first
    assert not _dialog_open(waiting)
    # A wrong password first: the dialog stays, says why, nothing is done.
    asking.fill("#step-up-password", "not my password")
    asking.click("#step-up-confirm")
    asking.wait_for_selector("#step-up-error:not([hidden])")
    assert _dialog_open(asking)
    asking.fill("#step-up-password", password)
    asking.click("#step-up-confirm")

    for page in (first, second):
        page.wait_for_selector("#account-result[data-done]", timeout=15000)
        assert page.get_attribute("#account-result", "data-done") == "ok", \
            page.inner_text("#account-result")
    assert "Password changed" in first.inner_text("#account-result")
    assert "Every other device is signed out" in second.inner_text("#account-result")
    assert not _dialog_open(waiting)
    assert waiting.locator("#log [data-kind=step-up]",
                           has_text="asked for a recent sign-in").count() == 0
    # A field the server refuses (400 invalid_input) is shown with its messages.
    first.fill("#old-password", "not the old password")
    first.fill("#new-password", "yet another passphrase")
    first.evaluate("document.querySelector('#password-form button[type=submit]').click()")
    first.wait_for_selector("#account-result[data-done=failed]", timeout=15000)
    assert "old_password: " in first.inner_text("#account-result")

    user.refresh_from_db()
    assert user.check_password("a much newer passphrase")
    # The phone is signed out on its next call; the laptop's tabs go on, re-authenticated.
    phone.evaluate("document.querySelector('#burst').click()")
    phone.wait_for_selector("body[data-state=signed-out]")
    for page in (first, second):
        assert page.get_attribute("body", "data-state") == "signed-in"
    assert auth_time(first) > time.time() - 60
    assert DeviceSession.objects.filter(revoked_at__isnull=True).get().device == "Laptop"


def test_delete_my_account_after_the_step_up_and_a_cancel_does_nothing(
    roomy, browser, user, password  # noqa: F811
):
    page = browser.new_page()
    sign_in(page, roomy.url, password)
    age_the_session(page)

    page.click("#delete-account")
    page.click("#delete-account-confirm")
    page.wait_for_selector("#step-up[open]")
    page.click("#step-up-cancel")
    page.wait_for_selector("#account-result[data-done=failed]")
    assert get_user_model().objects.filter(pk=user.pk).exists()
    assert page.get_attribute("body", "data-state") == "signed-in"

    page.click("#delete-account")
    page.click("#delete-account-confirm")
    page.wait_for_selector("#step-up[open]")
    page.fill("#step-up-password", password)
    page.click("#step-up-confirm")
    page.wait_for_selector("body[data-state=signed-out]", timeout=15000)
    assert "Your account was deleted." in page.inner_text("#logout-reason")
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert page.evaluate("localStorage.getItem('doubletoken')") is None
