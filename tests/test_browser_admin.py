"""Staff revoke sessions in the admin, in a real headless browser against a live server."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings

from .browser import browser  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORT = {"width": 1280, "height": 800}


def _assert_in_viewport(page, locator):
    box = locator.bounding_box()
    assert box is not None, locator
    right, bottom = box["x"] + box["width"], box["y"] + box["height"]
    assert box["x"] >= 0 and box["y"] >= 0, box
    assert right <= VIEWPORT["width"] and bottom <= VIEWPORT["height"], (locator, box)


def _login_api(base, username, password, device):
    response = requests.post(f"{base}/api/auth/login/", json={
        "username": username, "password": password, "device": device}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _me(base, pair):
    response = requests.get(f"{base}/api/me/",
                            headers={"Authorization": f"Bearer {pair['access']}"}, timeout=10)
    return response.status_code, response.json().get("code")


def test_staff_finds_and_revokes_a_session(live_server, browser, django_user_model,  # noqa: F811
                                           user, other_user, password, tmp_path):
    django_user_model.objects.create_superuser("staff", "staff@example.com", password)
    base = live_server.url
    lost_phone = _login_api(base, "alice", password, "Lost phone")
    laptop = _login_api(base, "alice", password, "Laptop")
    bobs = _login_api(base, "bob", password, "Bob's tablet")
    assert _me(base, lost_phone)[0] == 200

    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{base}/admin/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    page.goto(f"{base}/admin/django_doubletoken/devicesession/")
    page.fill("#searchbar", "alice")
    page.press("#searchbar", "Enter")
    page.wait_for_load_state()
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2 and "Bob" not in page.inner_text("#result_list")
    # At 1280×800 (admin sidebar open) the columns that matter fit: Status and Expires are
    # on screen, not scrolled away inside the results box.
    results = page.locator("#changelist .results")
    assert results.evaluate("box => box.scrollWidth <= box.clientWidth"), "results overflow"
    visible = results.bounding_box()
    for column in ("status_label", "expires"):
        for cell in (rows.first.locator(f"td.field-{column}"),
                     page.locator(f"#result_list thead th.column-{column}")):
            _assert_in_viewport(page, cell)
            box = cell.bounding_box()
            assert box["x"] + box["width"] <= visible["x"] + visible["width"], (column, box)
    row = rows.filter(has_text="Lost phone")
    row.locator("input[name=_selected_action]").check()
    page.select_option("select[name=action]", "log_out_sessions")
    page.click("button[name=index]")
    message = page.wait_for_selector(".messagelist .success")
    assert message.inner_text() == "1 session was logged out."
    page.screenshot(path=tmp_path / "admin-after-revoke.png")
    assert (tmp_path / "admin-after-revoke.png").stat().st_size > 10_000

    # The revoked session's very next request is refused; the others carry on.
    assert _me(base, lost_phone) == (401, "session_revoked")
    assert _me(base, laptop)[0] == 200 and _me(base, bobs)[0] == 200

    # From the user's own admin page: log alice out everywhere.
    page.goto(f"{base}/admin/auth/user/{user.pk}/change/")
    summary = page.inner_text(".doubletoken-summary")
    assert "1 active session" in summary and "all 2 sessions" in summary
    page.click(".doubletoken-summary a.deletelink")
    page.click("input[type=submit][value='Yes, log out everywhere']")
    message = page.wait_for_selector(".messagelist .success")
    assert "logged out of 1 session" in message.inner_text()
    assert _me(base, laptop) == (401, "session_revoked")
    assert _me(base, bobs)[0] == 200


def test_staff_logs_out_one_session_from_its_page(live_server, browser,  # noqa: F811
                                                  django_user_model, user, password, tmp_path):
    django_user_model.objects.create_superuser("staff", "staff@example.com", password)
    base = live_server.url
    phone = _login_api(base, "alice", password, "Alice's phone")
    laptop = _login_api(base, "alice", password, "Laptop")

    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    page.goto(f"{base}/admin/django_doubletoken/devicesession/")
    page.click("#result_list tbody tr:has-text(\"Alice's phone\") th a")
    page.wait_for_selector(".field-user_agent")
    page.screenshot(path=tmp_path / "session-page.png", full_page=True)
    # A read-only page: no Save buttons, but a way to log this one session out.
    assert page.locator(".submit-row input[type=submit]").count() == 0
    assert page.get_by_role("button", name="Save").count() == 0
    button = page.locator(".submit-row a", has_text="Log out this session")
    button.click()
    page.wait_for_selector("input[type=submit][value='Yes, log this session out']")
    assert _me(base, phone)[0] == 200  # the confirmation page only asks
    page.click("input[type=submit][value='Yes, log this session out']")
    message = page.wait_for_selector(".messagelist .success")
    assert "was logged out." in message.inner_text()
    assert "Logged out by staff" in page.inner_text(".field-revoke_reason")
    assert page.locator(".submit-row a", has_text="Log out this session").count() == 0

    assert _me(base, phone) == (401, "session_revoked")
    refreshed = requests.post(f"{base}/api/auth/refresh/", json={"refresh": phone["refresh"]},
                              timeout=10)
    assert refreshed.status_code == 401, refreshed.text
    assert _me(base, laptop)[0] == 200


def test_the_changelist_fits_with_an_e_mail_user_model_and_real_data(tmp_path):
    """tests/custom_user/browser_admin_custom_user.py, in a pytest process of its own (the
    user model cannot change within this one); its screenshot is left in tmp_path."""
    root = Path(__file__).resolve().parent.parent
    screenshot = tmp_path / "changelist-1280x800.png"
    env = {**os.environ, "TEST_REDIS_URL": settings.REDIS_URL, "PYTHONPATH": str(root),
           "DJANGO_SETTINGS_MODULE": "tests.settings_custom_user",
           "DOUBLETOKEN_ADMIN_SCREENSHOT": str(screenshot)}
    env.pop("DOUBLETOKEN_TEST_DB_NAME", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--ds=tests.settings_custom_user", "tests/custom_user/browser_admin_custom_user.py"],
        cwd=root, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"\b1 passed", output) and " failed" not in output, output
    assert screenshot.stat().st_size > 10_000
