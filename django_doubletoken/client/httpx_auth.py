"""The client for ``httpx``, sync and async: ``auth=HttpxAuth(store)`` (needs httpx)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from typing import TYPE_CHECKING, Any

import httpx

from ..flow import Finished, resume
from .exchange import PROOF_CODES, Replay, StepUp, code_of, json_of, response_flow

if TYPE_CHECKING:
    from .store import TokenStore
    from .tokens import StepUpRequired


class HttpxAuth(httpx.Auth):
    """``httpx`` auth for ``httpx.Client`` and ``httpx.AsyncClient``: ``auth=HttpxAuth(store)``.

    Only 401 bodies are read before the response is handed back, so streamed downloads stay
    streamed. A request with streaming content cannot be sent twice: after a refresh its
    401 is returned as is (the tokens are fresh, so sending it again works).

    ``dpop=True`` (or a key) gives the store a DPoP key if it has none; with the store's key,
    every request, refresh and account call carries a proof (see ``TokenStore``). A step-up
    refusal raises ``StepUpRequired`` out of the request call, unless ``on_step_up`` cures it.
    """

    def __init__(self, store: TokenStore, *, timeout: float = 10.0, dpop: Any = None,
                 on_step_up: Callable[[StepUpRequired], Any] | None = None,
                 **client_options: Any) -> None:
        """Refresh calls use a short-lived ``httpx.Client`` / ``AsyncClient`` made with
        ``client_options`` (``verify``, ``cert``, ``proxy``, ...): one call every access
        lifetime, and it keeps the refresh out of the app's client and its event hooks.
        ``on_step_up`` as for ``RequestsAuth`` (a coroutine function too, with
        ``AsyncClient``)."""
        if dpop is not None:
            store.use_dpop(dpop)
        self.store = store
        self.timeout = timeout
        self.client_options = client_options
        self.on_step_up = on_step_up

    # The two flows differ only in how they read a 401's body and recover.

    def sync_auth_flow(self, request: httpx.Request
                       ) -> Generator[httpx.Request, httpx.Response, None]:
        flow, outcome = self._flow(request), None
        while not isinstance(step := resume(flow, outcome), Finished):
            if isinstance(step, httpx.Request):
                outcome = yield step
                if outcome.status_code == 401:
                    outcome.read()
            elif isinstance(step, StepUp):
                outcome = self.store.step_up(step.sent, step.error, self.on_step_up)
            else:
                outcome = self.store.recover(step.sent, step.code, self._post,
                                             replayed=step.replayed)

    async def async_auth_flow(self, request: httpx.Request
                              ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow, outcome = self._flow(request), None
        while not isinstance(step := resume(flow, outcome), Finished):
            if isinstance(step, httpx.Request):
                outcome = yield step
                if outcome.status_code == 401:
                    await outcome.aread()
            elif isinstance(step, StepUp):
                outcome = await self.store.astep_up(step.sent, step.error, self.on_step_up)
            else:
                outcome = await self.store.arecover(step.sent, step.code, self._apost,
                                                    replayed=step.replayed)

    def _flow(self, request: httpx.Request) -> Generator[Any, Any, Any]:
        """Sends ``request`` (yields it, for the auth flow to hand to httpx), then follows
        ``response_flow``, a replay being the request that got the response (the last hop of
        a redirect) with the new token."""
        sent = _authorize(self.store, request, self.store.access)
        response = yield request
        if response.request is not request and self.store.dpop is not None \
                and response.status_code == 401 and _proof_refused(response):
            # httpx followed a redirect with this request's proof, which names another URL:
            # the last hop once more, with a proof of its own.
            _authorize(self.store, response.request, sent)
            response = yield response.request
        flow = response_flow(self.store, sent, response, _replayable(request))
        step = resume(flow)
        while not isinstance(step, Finished):
            if isinstance(step, Replay):
                _authorize(self.store, response.request, step.token)
                step = resume(flow, (yield response.request))
            else:
                step = resume(flow, (yield step))

    def _post(self, url: str, payload: dict, headers: dict) -> tuple[int, Any, Any]:
        with httpx.Client(timeout=self.timeout, **self.client_options) as http:
            response = http.post(url, json=payload, headers=headers)
        return response.status_code, json_of(response), response.headers

    async def _apost(self, url: str, payload: dict, headers: dict) -> tuple[int, Any, Any]:
        async with httpx.AsyncClient(timeout=self.timeout, **self.client_options) as http:
            response = await http.post(url, json=payload, headers=headers)
        return response.status_code, json_of(response), response.headers


def _authorize(store: TokenStore, request: httpx.Request, token: str | None) -> str | None:
    request.headers.update(store.authorization(request.method, str(request.url), token))
    return token


def _proof_refused(response: httpx.Response) -> bool:
    return code_of(json_of(response)) in PROOF_CODES


def _replayable(request: httpx.Request) -> bool:
    try:
        request.content  # noqa: B018 - raises for streaming content, which is sent only once
    except httpx.RequestNotRead:
        return False
    return True


def send(store: TokenStore, method: str, url: str, timeout: float, payload: Any = None
         ) -> tuple[int, Any]:
    """One of the store's account calls, made like any other request of the app."""
    with httpx.Client(auth=HttpxAuth(store, timeout=timeout), timeout=timeout) as http:
        response = http.request(method, url, json=payload)
    return response.status_code, json_of(response)


async def asend(store: TokenStore, method: str, url: str, timeout: float, payload: Any = None
                ) -> tuple[int, Any]:
    auth = HttpxAuth(store, timeout=timeout)
    async with httpx.AsyncClient(auth=auth, timeout=timeout) as http:
        response = await http.request(method, url, json=payload)
    return response.status_code, json_of(response)


def post_once(url: str, payload: dict, headers: dict, timeout: float) -> tuple[int, Any, Any]:
    """A POST without a token (the login)."""
    response = httpx.post(url, json=payload, headers=headers, timeout=timeout)
    return response.status_code, json_of(response), response.headers


async def apost_once(url: str, payload: dict, headers: dict, timeout: float
                     ) -> tuple[int, Any, Any]:
    async with httpx.AsyncClient(timeout=timeout) as http:
        response = await http.post(url, json=payload, headers=headers)
    return response.status_code, json_of(response), response.headers
