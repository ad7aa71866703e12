"""The client for ``requests``: ``session.auth = RequestsAuth(store)`` (needs requests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
import requests.auth
from requests.utils import requote_uri

from ..flow import Finished, resume
from .exchange import Replay, StepUp, bearer_of, json_of, response_flow

if TYPE_CHECKING:
    from .store import TokenStore
    from .tokens import StepUpRequired


class RequestsAuth(requests.auth.AuthBase):
    """``requests`` auth: ``session.auth = RequestsAuth(store)``.

    A request whose body is a stream or generator cannot be sent twice: after a refresh its
    401 is returned as is (the tokens are fresh, so sending it again works).

    ``dpop=True`` (or a key) gives the store a DPoP key if it has none; with the store's key,
    every request, refresh and account call carries a proof (see ``TokenStore``). A step-up
    refusal raises ``StepUpRequired`` out of the request call, unless ``on_step_up`` cures it.
    """

    def __init__(
        self,
        store: TokenStore,
        *,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        dpop: Any = None,
        on_step_up: Callable[[StepUpRequired], Any] | None = None,
    ) -> None:
        """``session`` makes the refresh calls (give yours for its proxies or TLS settings);
        by default a private one. ``on_step_up(error)``: called (once for the requests refused
        together) when a step-up guard refuses a request; when it re-authenticated the store
        and returns True, the request is sent once more instead of raising ``error``."""
        if dpop is not None:
            store.use_dpop(dpop)
        self.store = store
        self.session = session if session is not None else requests.Session()
        self.timeout = timeout
        self.on_step_up = on_step_up

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.update(
            self.store.authorization(request.method, request.url, self.store.access))
        request.register_hook("response", self._on_response)
        return request

    def _on_response(self, response: requests.Response, **send_kwargs: Any
                     ) -> requests.Response:
        replayable = isinstance(response.request.body, (bytes, str, type(None)))
        flow = response_flow(self.store, bearer_of(response.request.headers), response,
                             replayable)
        step = resume(flow)
        while not isinstance(step, Finished):
            if isinstance(step, Replay):
                outcome = self._replay(response, step.token, send_kwargs)
            elif isinstance(step, StepUp):
                outcome = self.store.step_up(step.sent, step.error, self.on_step_up)
            else:
                outcome = self.store.recover(step.sent, step.code, self._post,
                                             replayed=step.replayed)
            step = resume(flow, outcome)
        if step.value.is_redirect and self.store.dpop is not None:
            self._sign_next_hop(step.value)
        return step.value

    def _sign_next_hop(self, response: requests.Response) -> None:
        """requests follows a redirect with a copy of the request that got it: the copy gets
        a proof for its own method and URL (a proof names one)."""
        target = self.session.get_redirect_target(response)
        if target is None:
            return
        if target.startswith("//"):
            target = f"{urlsplit(response.url).scheme}:{target}"
        hop = response.request.copy()
        hop.url = requote_uri(urljoin(response.url, target))
        self.session.rebuild_method(hop, response)
        token = bearer_of(response.request.headers)
        response.request.headers.update(self.store.authorization(hop.method, hop.url, token))

    def _replay(self, response: requests.Response, token: str, send_kwargs: dict[str, Any]
                ) -> requests.Response:
        response.close()  # its body was read; this frees the connection
        replay = response.request.copy()
        replay.headers.update(self.store.authorization(replay.method, replay.url, token))
        # Straight to the adapter, as requests' own digest auth does: hooks do not run
        # again, so a 401 on the replay is returned as it is.
        retried = response.connection.send(replay, **send_kwargs)
        retried.history.append(response)
        retried.request = replay
        return retried

    def _post(self, url: str, payload: dict, headers: dict) -> tuple[int, Any, Any]:
        response = self.session.post(url, json=payload, headers=headers, timeout=self.timeout,
                                     auth=_no_auth)
        return response.status_code, json_of(response), response.headers


def _no_auth(request: Any) -> Any:
    """Overrides a session-wide auth for the refresh call (it must not carry the Bearer)."""
    return request


def send(store: TokenStore, method: str, url: str, timeout: float, payload: Any = None
         ) -> tuple[int, Any]:
    """One of the store's account calls, made like any other request of the app."""
    response = requests.request(method, url, json=payload, timeout=timeout,
                                auth=RequestsAuth(store, timeout=timeout))
    return response.status_code, json_of(response)


def post_once(url: str, payload: dict, headers: dict, timeout: float) -> tuple[int, Any, Any]:
    """A POST without a token (the login)."""
    response = requests.post(url, json=payload, headers=headers, timeout=timeout)
    return response.status_code, json_of(response), response.headers
