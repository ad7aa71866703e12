"""The session admin through Django's test client (the browser test drives the same pages)."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from django_doubletoken.models import DeviceSession

from .helpers import bearer

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/django_doubletoken/devicesession/"


@pytest.fixture
def staff(django_user_model, password):
    user = django_user_model.objects.create_user("staff", "staff@example.com", password,
                                                 is_staff=True)
    for codename in ("view_devicesession", "change_devicesession", "view_user"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


@pytest.fixture
def staff_client(client, staff, password):
    assert client.login(username="staff", password=password)
    return client


def _code(api, pair):
    response = api.get("/api/me/", **bearer(pair["access"]))
    return response.status_code, response.json().get("code")


def test_changelist_shows_search_and_filters(staff_client, user, other_user, login):
    login(device="Alice's phone")
    login("bob", device="Bob's laptop")
    page = staff_client.get(CHANGELIST).content.decode()
    assert "Alice&#x27;s phone" in page and "Bob&#x27;s laptop" in page
    found = staff_client.get(CHANGELIST, {"q": "alice"}).content.decode()
    assert "Alice&#x27;s phone" in found and "Bob&#x27;s laptop" not in found
    by_email = staff_client.get(CHANGELIST, {"q": "bob@example.com"}).content.decode()
    assert "Bob&#x27;s laptop" in by_email and "Alice&#x27;s phone" not in by_email
    assert "Bob&#x27;s laptop" in staff_client.get(CHANGELIST, {"q": "127.0.0.1"}).content.decode()
    for status in ("active", "expired", "revoked"):
        assert staff_client.get(CHANGELIST, {"status": status}).status_code == 200


def test_status_filter(staff_client, api, user, login):
    login(device="keep-me")
    drop = login(device="drop-me")
    api.post("/api/auth/logout/", **bearer(drop["access"]))
    revoked = staff_client.get(CHANGELIST, {"status": "revoked"}).content.decode()
    assert "drop-me" in revoked and "keep-me" not in revoked and "Logged out" in revoked
    active = staff_client.get(CHANGELIST, {"status": "active"}).content.decode()
    assert "keep-me" in active and "drop-me" not in active


def test_log_out_selected_sessions(staff_client, api, user, login):
    target, bystander = login(device="lost phone"), login(device="laptop")
    response = staff_client.post(
        CHANGELIST,
        {"action": "log_out_sessions", "_selected_action": [target["session_id"]]},
        follow=True,
    )
    assert "1 session was logged out." in response.content.decode()
    assert _code(api, target) == (401, "session_revoked")
    assert _code(api, bystander)[0] == 200
    assert DeviceSession.objects.get(pk=target["session_id"]).revoke_reason == "admin"


def test_kick_users_everywhere(staff_client, api, user, other_user, login):
    alice = [login(device=f"a{i}") for i in range(3)]
    bob = login("bob")
    response = staff_client.post(
        CHANGELIST,
        {"action": "log_out_users_everywhere", "_selected_action": [alice[0]["session_id"]]},
        follow=True,
    )
    assert "1 user logged out everywhere: 3 sessions revoked." in response.content.decode()
    assert all(_code(api, pair) == (401, "session_revoked") for pair in alice)
    assert _code(api, bob)[0] == 200


def test_rows_are_read_only_and_cannot_be_added_or_deleted(staff_client, user, login):
    pair = login(device="phone")
    url = f"{CHANGELIST}{pair['session_id']}/change/"
    page = staff_client.get(url).content.decode()
    assert 'name="device"' not in page and "phone" in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert staff_client.post(url, {"device": "hacked", "refresh_generation": 99}
                             ).status_code == 403
    session = DeviceSession.objects.get(pk=pair["session_id"])
    assert (session.device, session.refresh_generation) == ("phone", 0)
    assert staff_client.get(f"{CHANGELIST}add/").status_code == 403
    assert staff_client.get(f"{CHANGELIST}{pair['session_id']}/delete/").status_code == 403


def test_actions_need_the_change_permission(client, django_user_model, password, api, user,
                                            login):
    viewer = django_user_model.objects.create_user("viewer", password=password, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_devicesession"))
    client.login(username="viewer", password=password)
    pair = login()
    page = client.get(CHANGELIST).content.decode()
    assert "log_out_sessions" not in page
    client.post(CHANGELIST, {"action": "log_out_sessions",
                             "_selected_action": [pair["session_id"]]})
    assert _code(api, pair)[0] == 200
    kick = reverse("admin:django_doubletoken_devicesession_log_out_user", args=[user.pk])
    assert client.post(kick).status_code == 403
    assert _code(api, pair)[0] == 200


def test_user_page_shows_sessions_and_logs_out_everywhere(staff_client, api, user, login):
    phone, laptop = login(device="phone"), login(device="laptop")
    page = staff_client.get(f"/admin/auth/user/{user.pk}/change/").content.decode()
    assert "Active device sessions" in page and "phone" in page and "laptop" in page
    assert "2 active sessions" in page and "all 2 sessions" in page
    kick = reverse("admin:django_doubletoken_devicesession_log_out_user", args=[user.pk])
    assert kick in page
    confirm = staff_client.get(kick).content.decode()
    assert "Yes, log out everywhere" in confirm and "phone" in confirm
    assert _code(api, phone)[0] == 200  # GET only asks
    response = staff_client.post(kick, follow=True)
    assert "Alice was logged out of 2 sessions." in response.content.decode()  # capfirst
    assert _code(api, phone) == _code(api, laptop) == (401, "session_revoked")
    assert staff_client.get(reverse("admin:django_doubletoken_devicesession_log_out_user",
                                    args=["not-a-pk"])).status_code == 404


def test_log_out_one_session_from_its_page(staff_client, api, user, login):
    target, bystander = login(device="lost phone"), login(device="laptop")
    page = staff_client.get(f"{CHANGELIST}{target['session_id']}/change/").content.decode()
    log_out = reverse("admin:django_doubletoken_devicesession_log_out_session",
                      args=[target["session_id"]])
    assert f'href="{log_out}"' in page and "Log out this session" in page
    confirm = staff_client.get(log_out).content.decode()
    assert "Yes, log this session out" in confirm and "csrfmiddlewaretoken" in confirm
    assert _code(api, target)[0] == 200  # GET only asks

    response = staff_client.post(log_out, follow=True)
    assert response.redirect_chain[-1][0].endswith(f"{target['session_id']}/change/")
    assert "lost phone · " in response.content.decode()
    assert "was logged out." in response.content.decode()
    assert _code(api, target) == (401, "session_revoked")
    assert _code(api, bystander)[0] == 200
    session = DeviceSession.objects.get(pk=target["session_id"])
    assert session.revoke_reason == "admin"
    # A revoked session's page no longer offers the button; a second POST changes nothing.
    page = staff_client.get(f"{CHANGELIST}{target['session_id']}/change/").content.decode()
    assert "Log out this session" not in page
    again = staff_client.post(log_out, follow=True).content.decode()
    assert "was already logged out." in again
    assert DeviceSession.objects.get(pk=target["session_id"]).revoked_at == session.revoked_at


def test_log_out_one_session_needs_change_permission_and_a_real_session(
        client, django_user_model, password, api, user, login, staff_client):
    pair = login()
    log_out = reverse("admin:django_doubletoken_devicesession_log_out_session",
                      args=[pair["session_id"]])
    for missing in ("not-a-uuid", "5b0c3f1e-0000-4000-8000-000000000000"):
        url = reverse("admin:django_doubletoken_devicesession_log_out_session", args=[missing])
        assert staff_client.post(url).status_code == 404
    client.logout()
    viewer = django_user_model.objects.create_user("viewer", password=password, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_devicesession"))
    client.login(username="viewer", password=password)
    page = client.get(f"{CHANGELIST}{pair['session_id']}/change/").content.decode()
    assert "Log out this session" not in page
    assert client.get(log_out).status_code == 403
    assert client.post(log_out).status_code == 403
    assert _code(api, pair)[0] == 200


def test_dates_on_the_user_page_are_formatted_alike(staff_client, user, login):
    login(device="phone")
    page = staff_client.get(f"/admin/auth/user/{user.pk}/change/").content.decode()
    inline = page[page.index("Active device sessions"):]
    expires = re.search(r'<td class="field-expires_at">\s*<p>(.*?)</p>', inline).group(1)
    created = re.search(r'<td class="field-created_at">\s*<p>(.*?)</p>', inline).group(1)
    assert "+00:00" not in expires and re.fullmatch(r"\w{3}\.? \d{1,2}, \d{4}, .*", expires)
    assert re.sub(r"\d", "0", expires.split(",")[1]) == re.sub(r"\d", "0", created.split(",")[1])
