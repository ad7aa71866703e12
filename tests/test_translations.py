"""Messages are translated; the codes clients act on never are."""

import pytest
from django.utils import translation

from .helpers import access_token, bearer

pytestmark = pytest.mark.django_db


def test_error_details_follow_the_language_codes_do_not(api, user, login):
    pair = login()
    with translation.override("fr"):
        wrong = api.post("/api/auth/login/", {"username": "alice", "password": "nope"},
                         format="json", HTTP_ACCEPT_LANGUAGE="fr")
        expired = api.get("/api/me/", **bearer(access_token(pair, remaining=-60)))
    assert wrong.json() == {"detail": "Impossible de se connecter avec ces identifiants.",
                            "code": "invalid_credentials"}
    assert expired.json() == {"detail": "Le jeton d’accès a expiré.", "code": "token_expired"}
    english = api.get("/api/me/", **bearer(access_token(pair, remaining=-60)))
    assert english.json() == {"detail": "The access token has expired.", "code": "token_expired"}


def test_field_errors_are_translated_their_codes_are_not(api, user):
    with translation.override("fr"):
        missing = api.post("/api/auth/login/", {"username": "alice"}, format="json",
                           HTTP_ACCEPT_LANGUAGE="fr")
    assert missing.status_code == 400
    assert missing.json() == {"detail": "Des champs manquent ou ne sont pas valides ; voir errors.",
                              "code": "invalid_input",
                              "errors": {"password": ["Ce champ est obligatoire."]}}


def test_admin_labels_are_translated(user, login):
    from django_doubletoken.models import DeviceSession, RevokeReason

    with translation.override("fr"):
        assert str(DeviceSession._meta.verbose_name_plural) == "sessions d’appareils"
        assert str(RevokeReason.REFRESH_REUSED.label) == "Jeton de rafraîchissement réutilisé"


def test_the_session_log_out_page_is_translated(admin_client, user, login):
    from django.urls import reverse

    pair = login()
    url = reverse("admin:django_doubletoken_devicesession_log_out_session",
                  args=[pair["session_id"]])
    with translation.override("fr"):
        page = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Oui, déconnecter cette session" in page


def test_a_step_up_refusal_is_translated_its_challenge_is_not(user, login):
    import time

    from django.test import Client

    pair = login()
    stale = access_token(pair, auth_time=int(time.time()) - 3600)
    with translation.override("fr"):
        refused = Client().get("/stepup/drf/", HTTP_ACCEPT_LANGUAGE="fr", **bearer(stale))
    assert refused.json()["detail"].startswith("Cette action demande une authentification")
    assert refused.json()["code"] == "insufficient_user_authentication"
    assert 'error_description="More recent authentication is required"' in refused[
        "WWW-Authenticate"]
