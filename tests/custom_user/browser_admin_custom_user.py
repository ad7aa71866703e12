"""The device-sessions changelist with the data real projects have: an e-mail user model,
40-character addresses, long device labels, IPv6 addresses, revoked and expired rows. At
1280×800 (the admin's sidebar open) every column is on screen and no cell wraps onto more
than two lines.

Run with the custom user model: ``pytest --ds=tests.settings_custom_user
tests/custom_user/browser_admin_custom_user.py`` (tests/test_browser_admin.py does, in a
process of its own)."""

import os
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from django_doubletoken import services
from django_doubletoken.models import DeviceSession, RevokeReason
from tests.browser import browser  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORT = {"width": 1280, "height": 800}
PASSWORD = "correct horse battery staple"
STAFF = "operations.staff@example.com"
# 40 characters each, as addresses at companies with long names are.
EMAILS = [
    "margaret.hamilton-whitfield@example.com",
    "christopher.vanderbilt@enterprise-co.org",
    "alexandra.konstantinopoulou@example.net",
]
DEVICES = [
    "Chrome 131 on Windows 11 — Margaret's work laptop (3rd floor, desk 42)",
    "Safari on iPhone 15 Pro Max",
    "Firefox 133 on Ubuntu 24.04 LTS — build server",
    "",
]
IPS = ["2001:db8:85a3:8d3:1319:8a2e:370:7348", "203.0.113.254", None, "198.51.100.7"]
SCREENSHOT = os.environ.get("DOUBLETOKEN_ADMIN_SCREENSHOT")

# Per cell of the table: its text, the number of lines its text takes (distinct tops of the
# text's line boxes; a header's sort widgets are not text), and its box.
MEASURE = """() => {
  const view = document.documentElement.clientWidth;
  return [...document.querySelectorAll("#result_list th, #result_list td")].map((cell) => {
    const tops = new Set();
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const rect of range.getClientRects()) {
        if (rect.width > 0 && rect.height > 0) tops.add(Math.round(rect.top));
      }
    }
    const box = cell.getBoundingClientRect();
    return {text: cell.innerText.trim(), cls: cell.className, lines: tops.size,
            right: box.right, left: box.left, view};
  });
}"""


@pytest.fixture
def realistic_sessions():
    users = [get_user_model().objects.create_user(email, PASSWORD) for email in EMAILS]
    get_user_model().objects.create_superuser(STAFF, PASSWORD)
    for user in users:
        for number, device in enumerate(DEVICES):
            services.login(user, device=device, ip=IPS[number],
                           user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
                                      "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0")
    sessions = list(DeviceSession.objects.order_by("created_at"))
    services.revoke_sessions(DeviceSession.objects.filter(pk=sessions[1].pk),
                             RevokeReason.ADMIN_KICK)
    services.revoke_sessions(DeviceSession.objects.filter(pk=sessions[5].pk),
                             RevokeReason.REFRESH_REUSED)
    long_ago = timezone.now() - timedelta(days=400)
    DeviceSession.objects.filter(pk=sessions[2].pk).update(
        created_at=long_ago, last_used_at=long_ago, refresh_expires_at=long_ago,
        absolute_expires_at=long_ago + timedelta(days=30))
    return sessions


def test_the_changelist_fits_1280_with_real_data(live_server, browser,  # noqa: F811
                                                 realistic_sessions):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", STAFF)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    page.goto(f"{live_server.url}/admin/django_doubletoken/devicesession/")
    page.wait_for_selector("#result_list")
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT)

    assert page.locator("#result_list tbody tr").count() == len(realistic_sessions)
    assert page.locator("#nav-sidebar").is_visible()  # the sidebar takes its share
    results = page.locator("#changelist .results")
    assert results.evaluate("box => box.scrollWidth <= box.clientWidth"), "results overflow"
    cells = page.evaluate(MEASURE)
    assert cells and all(cell["view"] == VIEWPORT["width"] for cell in cells)
    for cell in cells:
        assert cell["left"] >= 0 and cell["right"] <= VIEWPORT["width"], cell
        assert cell["lines"] <= 2, cell
    headers = page.locator("#result_list thead th").all_inner_texts()
    assert [" ".join(h.split()).upper() for h in headers][1:] == [
        "USER", "DEVICE · IP ADDRESS", "LAST USED", "EXPIRES", "STATUS"], headers
    texts = [cell["text"].replace("\n", "") for cell in cells]
    for email in EMAILS:
        assert email in texts, "the address is shown whole"

    # A compact date, with the full timestamp on hover.
    expires = page.locator("#result_list tbody td.field-expires").first
    title = expires.locator("[title]").get_attribute("title")
    assert title and len(title) > len(expires.inner_text().strip()), (title, expires.inner_text())
    # The device label is cut, the whole label on hover.
    device = page.locator("#result_list tbody td.field-device_label .dt-line",
                          has_text="Chrome").first
    assert device.get_attribute("title") == DEVICES[0]
    assert device.evaluate("line => line.scrollWidth > line.clientWidth"), "cut to the column"
