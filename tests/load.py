"""Steady traffic against a live app server while a test breaks or reshapes its cache tier."""

from __future__ import annotations

import threading
import time

import requests

from django_doubletoken.models import DeviceSession

OK = (200, None)
UNAVAILABLE = (503, "cache_unavailable")


def outcome(response: requests.Response) -> tuple[int, str | None]:
    """(status, error code); a body that is not JSON is recorded as such, never dropped."""
    try:
        return response.status_code, response.json().get("code")
    except ValueError:
        return response.status_code, f"not JSON: {response.text[:80]!r}"


def login(base: str, password: str, device: str) -> dict:
    response = requests.post(f"{base}/api/auth/login/", timeout=30, json={
        "username": "alice", "password": password, "device": device})
    assert response.status_code == 200, response.text
    return response.json()


class SessionLoad:
    """Two threads calling ``/api/me/`` with a live session's access token, one with a revoked
    session's, and one rotating the live session's refresh token every 0.1 s. Each outcome is
    recorded as (status, code)."""

    def __init__(self, base: str, live: dict, revoked: dict) -> None:
        self.base, self.live, self.revoked = base, live, revoked
        self.outcomes: dict[str, list[tuple[int, str | None]]] = {
            "live": [], "revoked": [], "refresh": []}
        self.refresh_token = live["refresh"]
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._read, args=("live", live["access"])),
            threading.Thread(target=self._read, args=("live", live["access"])),
            threading.Thread(target=self._read, args=("revoked", revoked["access"])),
            threading.Thread(target=self._rotate),
        ]

    def _read(self, name: str, token: str) -> None:
        with requests.Session() as http:
            while not self._stop.is_set():
                response = http.get(f"{self.base}/api/me/", timeout=30,
                                    headers={"Authorization": f"Bearer {token}"})
                self.outcomes[name].append(outcome(response))

    def _rotate(self) -> None:
        with requests.Session() as http:
            while not self._stop.is_set():
                response = http.post(f"{self.base}/api/auth/refresh/", timeout=30,
                                     json={"refresh": self.refresh_token})
                self.outcomes["refresh"].append(outcome(response))
                if response.status_code == 200:
                    self.refresh_token = response.json()["refresh"]
                time.sleep(0.1)

    def settle(self, timeout: float = 30) -> None:
        """Keep the load on until the live session's reads and the rotations succeed again
        (a loaded machine can take a while to clear the requests that queued meanwhile)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.outcomes["live"][-3:] == [OK] * 3 and self.outcomes["refresh"][-1:] == [OK]:
                return
            time.sleep(0.2)

    def __enter__(self) -> SessionLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def assert_safe(self, allowed: set) -> None:
        """Only ``allowed`` outcomes for the live session and rotations, the revoked session
        never let in, everything working again at the end, and exactly one new refresh
        generation per successful rotation (none lost, none applied twice)."""
        outcomes = self.outcomes
        assert outcomes["live"] and outcomes["refresh"] and outcomes["revoked"]
        assert set(outcomes["live"]) <= allowed, set(outcomes["live"])
        assert set(outcomes["refresh"]) <= allowed, set(outcomes["refresh"])
        assert set(outcomes["revoked"]) <= {(401, "session_revoked")} | (allowed - {OK}), \
            set(outcomes["revoked"])
        assert outcomes["live"][-1] == OK, outcomes["live"][-10:]
        assert outcomes["refresh"][-1] == OK, outcomes["refresh"][-10:]
        rotations = outcomes["refresh"].count(OK)
        session = DeviceSession.objects.get(pk=self.live["session_id"])
        assert session.refresh_generation == rotations
        # The revoked session's slot may sit on a primary still being replaced: a 503 there
        # is allowed (and retried for a while); anything but the refusal after it is not.
        deadline = time.monotonic() + 15
        while True:
            me = requests.get(f"{self.base}/api/me/", timeout=30,
                              headers={"Authorization": f"Bearer {self.revoked['access']}"})
            if me.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert (me.status_code, me.json().get("code")) == (401, "session_revoked"), \
            (me.status_code, me.text)
