/**
 * django-doubletoken browser client: a dependency-free ES module around fetch.
 *
 * - Sends `Authorization: Bearer <access>` and swaps in the token of any
 *   `NEW_HTTP_AUTHORIZATION` response header (the server's sliding expiry).
 * - On 401 `token_expired` / `token_revoked`, runs one refresh shared by every request in
 *   flight, then replays each request once. A refused refresh logs out; nothing ever loops.
 * - Across tabs of one origin: one refresh at a time (Web Locks, else a localStorage lease),
 *   new tokens and logouts followed through storage events (shared localStorage) or a
 *   BroadcastChannel (per-tab storage), and the refresh token read from storage right
 *   before it is sent, so a tab that slept through rotations never presents a stale one
 *   (the server would take that for token theft).
 *
 * - `openSocket()` / `connectSocket()`: a WebSocket authenticated for django_doubletoken.channels,
 *   kept alive past access-token expiry by sending each new token over it.
 * - `dpop: true` (RFC 9449): tokens bound to a non-extractable key of this browser profile
 *   (doubletoken-dpop.js); a proof on every request, `Authorization: DPoP`, nonce retry.
 * - `onStepUp` (RFC 9470): a 401 `insufficient_user_authentication` asks the app once (across
 *   requests and tabs) to re-authenticate the session (`reauthenticate()`), then replays.
 *
 * Types: doubletoken.d.ts. Usage: docs/how-to/js-client.md in django-doubletoken.
 */

import { DPoPProver, storedKeyPair } from "./doubletoken-dpop.js";

/**
 * What the client does for each error code, and the WebSocket close code of those that close
 * a socket: the server's one table (django_doubletoken.errors.ERROR_CODES), which the test
 * suite checks this copy against. Actions: "refresh" and "use_newer_token" (renew the access
 * token, then replay once), "login" (the session is over), "retry", "fix_request",
 * "step_up" (the user re-authenticates the session, then replay once).
 */
export const ERROR_CODES = Object.freeze({
  token_expired: Object.freeze({ action: "refresh", closeCode: 4002 }),
  token_revoked: Object.freeze({ action: "use_newer_token", closeCode: 4003 }),
  token_invalid: Object.freeze({ action: "login", closeCode: 4001 }),
  session_revoked: Object.freeze({ action: "login", closeCode: 4004 }),
  session_expired: Object.freeze({ action: "login", closeCode: 4005 }),
  refresh_reused: Object.freeze({ action: "login", closeCode: 4006 }),
  invalid_dpop_proof: Object.freeze({ action: "fix_request", closeCode: 4007 }),
  use_dpop_nonce: Object.freeze({ action: "fix_request", closeCode: 4008 }),
  simplejwt_migration_ended: Object.freeze({ action: "login", closeCode: null }),
  insufficient_user_authentication: Object.freeze({ action: "step_up", closeCode: 4009 }),
  invalid_credentials: Object.freeze({ action: "fix_request", closeCode: null }),
  not_authenticated: Object.freeze({ action: "fix_request", closeCode: 4000 }),
  authentication_failed: Object.freeze({ action: "fix_request", closeCode: null }),
  cache_unavailable: Object.freeze({ action: "retry", closeCode: 1013 }),
  database_unavailable: Object.freeze({ action: "retry", closeCode: 1013 }),
  throttled: Object.freeze({ action: "retry", closeCode: null }),
  permission_denied: Object.freeze({ action: "fix_request", closeCode: null }),
  csrf_failed: Object.freeze({ action: "fix_request", closeCode: null }),
  not_found: Object.freeze({ action: "fix_request", closeCode: null }),
  method_not_allowed: Object.freeze({ action: "fix_request", closeCode: null }),
  parse_error: Object.freeze({ action: "fix_request", closeCode: null }),
  invalid_input: Object.freeze({ action: "fix_request", closeCode: null }),
  request_too_large: Object.freeze({ action: "fix_request", closeCode: null }),
  unsupported_media_type: Object.freeze({ action: "fix_request", closeCode: null }),
});
const codesWhere = (test) =>
  new Set(Object.keys(ERROR_CODES).filter((code) => test(ERROR_CODES[code])));
// 401 codes that a refresh cures, and those that mean "log in again".
const REFRESH_CODES = codesWhere(({ action }) => ["refresh", "use_newer_token"].includes(action));
const LOGOUT_CODES = codesWhere(({ action }) => action === "login");
const STEP_UP_CODES = codesWhere(({ action }) => action === "step_up");
// RFC 9449 §8-9: the server wants its nonce in the proof (400 at login and refresh, 401
// elsewhere); its DPoP-Nonce header carries it, and the request is sent once more.
const USE_DPOP_NONCE = "use_dpop_nonce";
// A proof's iat this far from the server's clock (its Date header) was made by a clock that is
// off: the client sends it once more by the server's clock.
const CLOCK_SKEW_MS = 2000;
// A step-up waits for a person typing a password: a lease (no Web Locks) lasts that long.
const STEP_UP_LEASE_MS = 5 * 60 * 1000;
// The refresh endpoint's answers that mean the session cannot go on (no retry will help).
const REFRESH_REFUSED = new Set([400, 401, 403]);
const MAX_TIMER_DELAY = 2 ** 31 - 1;
// localStorage reaches the other tabs' processes asynchronously: the refreshing tab keeps the
// lock this long after writing, so that the next holder reads the new pair. (Were it still to
// read the old one, the server's grace window answers with the same new pair.)
const LOCK_SETTLE_MS = 50;

/** The refresh could not be done now (network error, 5xx, 429): tokens are kept. */
export class RefreshUnavailableError extends Error {
  constructor(message, { status = 0, code = "network_error", cause } = {}) {
    super(message, { cause });
    this.name = "RefreshUnavailableError";
    this.status = status;
    this.code = code;
  }
}

/**
 * Login or re-authentication refused: `code` is the server's (`invalid_credentials`, ...),
 * `status` the HTTP status.
 */
export class LoginError extends Error {
  constructor(message, { status, code }) {
    super(message);
    this.name = "LoginError";
    this.status = status;
    this.code = code;
  }
}

async function refusal(response, what) {
  const body = await errorBody(response);
  return new LoginError(body.detail ?? `${what} failed with HTTP ${response.status}`, {
    status: response.status,
    code: body.code ?? `http_${response.status}`,
  });
}

// --- token storage ----------------------------------------------------------------------

/** Tokens in this tab's memory only: gone on reload, invisible to other tabs. */
export function memoryStorage() {
  let record = null;
  return {
    shared: false,
    get: () => record,
    set(value) {
      record = value;
    },
  };
}

/**
 * Tokens as one JSON value under `key` of a Web Storage area. One value, so that the access
 * and refresh tokens always change together. `shared` (localStorage): every tab sees it.
 */
export function webStorage(area, key = "doubletoken") {
  return {
    shared: area === globalThis.localStorage,
    area,
    key,
    get() {
      try {
        return JSON.parse(area.getItem(key));
      } catch {
        return null;
      }
    },
    set(value) {
      if (value) area.setItem(key, JSON.stringify(value));
      else area.removeItem(key);
    },
  };
}

function resolveStorage(option, key) {
  if (option === undefined || option === "memory") return memoryStorage();
  if (option === "local") return webStorage(globalThis.localStorage, key);
  if (option === "session") return webStorage(globalThis.sessionStorage, key);
  return option;
}

// --- cross-tab coordination -------------------------------------------------------------

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function randomId() {
  return globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`;
}

function sharedArea(storage) {
  if (storage.shared && storage.area) return storage.area;
  try {
    return globalThis.localStorage ?? null; // throws where storage is blocked
  } catch {
    return null;
  }
}

/** Resolves when `key` changes in another tab, or after `timeout` ms. */
function storageChange(key, timeout) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      globalThis.removeEventListener?.("storage", onStorage);
      resolve();
    };
    const onStorage = (event) => {
      if (event.key === key || event.key === null) done();
    };
    const timer = setTimeout(done, Math.max(0, timeout));
    globalThis.addEventListener?.("storage", onStorage);
  });
}

/**
 * A best-effort mutex across tabs for browsers without Web Locks: a lease (owner, expiry)
 * under `key`. The server's grace window covers the rare race it can lose.
 */
function leaseLock(area, key, { ttl, settle = 50 }) {
  const read = () => {
    try {
      return JSON.parse(area.getItem(key));
    } catch {
      return null;
    }
  };
  async function acquire(id) {
    for (;;) {
      const held = read();
      if (!held || held.expires <= Date.now()) {
        area.setItem(key, JSON.stringify({ id, expires: Date.now() + ttl }));
        // Two tabs may both have seen it free: after a pause the last writer owns it.
        await sleep(settle);
        if (read()?.id === id) return;
      } else {
        // Woken by the holder's release; the cap covers a lost event or a crashed holder.
        await storageChange(key, Math.min(held.expires - Date.now(), 1000));
      }
    }
  }
  return async (fn) => {
    const id = randomId();
    await acquire(id);
    try {
      return await fn();
    } finally {
      if (read()?.id === id) area.removeItem(key);
    }
  };
}

function crossTabLock(name, storage, { custom, ttl }) {
  if (custom) return (fn) => custom(name, fn);
  const locks = globalThis.navigator?.locks;
  if (locks?.request) return (fn) => locks.request(name, fn);
  const area = sharedArea(storage);
  if (area) return leaseLock(area, `${name}:lease`, { ttl });
  return (fn) => fn(); // a single context: the in-flight promise is coordination enough
}

/**
 * Messages to the other tabs. With shared Web Storage (localStorage) the other tabs' writes
 * are the messages: a storage event is dispatched once the new value is readable here, while
 * a BroadcastChannel message may arrive before it (they travel separately between processes).
 * Per-tab storage (memory, sessionStorage) has nothing to observe: a BroadcastChannel
 * carries the new record.
 */
function tabChannel(name, storage, onMessage) {
  if (storage.shared && storage.area && globalThis.addEventListener) {
    const onStorage = (event) => {
      if (event.storageArea !== storage.area) return;
      if (event.key === storage.key || event.key === null) onMessage({ type: "storage" });
    };
    globalThis.addEventListener("storage", onStorage);
    return { post() {}, close: () => globalThis.removeEventListener("storage", onStorage) };
  }
  if (typeof globalThis.BroadcastChannel === "function") {
    const channel = new BroadcastChannel(name);
    channel.onmessage = (event) => onMessage(event.data);
    channel.unref?.(); // Node: an open channel must not keep the process alive
    return { post: (message) => channel.postMessage(message), close: () => channel.close() };
  }
  return { post() {}, close() {} };
}

// --- small helpers ----------------------------------------------------------------------

/** The claims of a JWT, unverified: only to read `exp` / `iat` (the server verifies). */
function claimsOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch {
    return {};
  }
}

/**
 * Server clock minus local clock in ms, from a response's Date header (null without one):
 * the smallest correction consistent with it. Date has one-second resolution, truncated, so
 * the server's time when answering was in [date, date + 1 s), between our `sentAt` and
 * `receivedAt`; clocks that agree to within that are taken as agreeing (offset 0).
 */
function clockOffset(dateHeader, sentAt, receivedAt) {
  const date = Date.parse(dateHeader ?? "");
  if (Number.isNaN(date)) return null;
  const low = date - receivedAt;
  const high = date + 1000 - sentAt;
  return Math.min(Math.max(0, low), high);
}

/** The JSON body of an error response (read from a clone), or {} when it has none. */
async function errorBody(response) {
  try {
    const body = await response.clone().json();
    return body && typeof body === "object" ? body : {};
  } catch {
    return {};
  }
}

async function errorCode(response) {
  const { code } = await errorBody(response);
  return typeof code === "string" ? code : undefined;
}

/** What an RFC 9470 refusal asks for: `{ maxAge, acrValues }` (null when not asked). */
function stepUpChallenge(body) {
  const maxAge = typeof body?.max_age === "number" ? body.max_age : null;
  const acr = typeof body?.acr_values === "string" ? body.acr_values : null;
  return { maxAge, acrValues: acr ? acr.split(" ").filter(Boolean) : null };
}

function readCookie(name) {
  const cookies = globalThis.document?.cookie ?? "";
  for (const part of cookies.split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return decodeURIComponent(value.join("="));
  }
  return null;
}

function withHeaders(input, init, extra) {
  const base = init?.headers ?? (input instanceof Request ? input.headers : undefined);
  const headers = new Headers(base);
  for (const [name, value] of Object.entries(extra)) headers.set(name, value);
  return { ...init, headers };
}

/** The method and URL a fetch(input, init) sends: what a DPoP proof is made for. */
function requestTarget(input, init) {
  const request = input instanceof Request ? input : null;
  const url = request ? request.url : String(input);
  return { method: init?.method ?? request?.method ?? "GET", url };
}

/** `auth_time` of a token (RFC 9470): when the user last proved who they are, or null. */
function authTime(token) {
  const value = token ? claimsOf(token).auth_time : undefined;
  return typeof value === "number" ? value : null;
}

/** Is `record` a later state of the same session than `mine`? (messages from other tabs) */
function isNewer(record, mine) {
  return (
    record.sessionId === mine.sessionId &&
    record.access !== mine.access &&
    record.accessExpiresAt >= mine.accessExpiresAt &&
    record.refreshExpiresAt >= mine.refreshExpiresAt
  );
}

// --- the client -------------------------------------------------------------------------

export class DoubleTokenClient extends EventTarget {
  #storage;
  #authURL;
  #fetch;
  #lock;
  #channel;
  #headerName;
  #credentials;
  #csrfCookie;
  #csrfHeader;
  #refreshBefore;
  #refreshTimeout;
  #now;
  #dpop = null;
  #onStepUp = null;
  #stepUpLock;
  #stepUpInflight = null;
  #stepUpDeclinedAt = -Infinity;
  // Server minus local clock from the last login/refresh answer: the clock of a proof sent
  // before any pair is stored (which then carries its own offset).
  #clockHint = 0;
  #inflight = null;
  #sessionId = null;
  #timer = null;
  #proactiveTriedFor = null;

  constructor(options = {}) {
    super();
    const name = options.name ?? "doubletoken";
    this.#storage = resolveStorage(options.storage, name);
    const base = globalThis.location?.href;
    this.#authURL = new URL(options.authURL ?? "/api/auth/", base).href;
    this.#fetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
    this.#refreshTimeout = options.refreshTimeout ?? 20000;
    // A lease outlives the longest refresh, so that no other tab takes it mid-refresh.
    const lease = { custom: options.lock, ttl: this.#refreshTimeout + 5000 };
    this.#lock = crossTabLock(`${name}:refresh`, this.#storage, lease);
    this.#channel = tabChannel(name, this.#storage, (message) => this.#onRemote(message));
    if (options.dpop) {
      const keyPair = options.dpop.keyPair ?? (() => storedKeyPair(name));
      this.#dpop = new DPoPProver(keyPair);
    }
    this.#onStepUp = options.onStepUp ?? null;
    const stepUpLease = { custom: options.lock, ttl: STEP_UP_LEASE_MS };
    this.#stepUpLock = crossTabLock(`${name}:step-up`, this.#storage, stepUpLease);
    this.#headerName = options.headerName ?? "NEW_HTTP_AUTHORIZATION";
    this.#credentials = options.credentials ?? "same-origin";
    this.#csrfCookie = options.csrfCookieName ?? "csrftoken";
    this.#csrfHeader = options.csrfHeaderName ?? "X-CSRFToken";
    this.#refreshBefore = (options.refreshBeforeExpiry ?? 0) * 1000;
    this.#now = options.now ?? Date.now;
    if (options.onLogout) {
      this.addEventListener("logout", (event) => options.onLogout(event.detail.reason));
    }
    this.#sessionId = this.#storage.get()?.sessionId ?? null;
    this.#schedule();
  }

  // --- state ---

  get headerName() {
    return this.#headerName;
  }

  /** The current access token (read from storage each time: other tabs may have changed it). */
  accessToken() {
    return this.#storage.get()?.access ?? null;
  }

  isAuthenticated() {
    return this.#storage.get() !== null;
  }

  /** True when the session's tokens are bound to this browser's DPoP key (`token_type` DPoP). */
  isBound() {
    return this.#storage.get()?.tokenType === "DPoP";
  }

  /**
   * With `dpop`: the RFC 7638 thumbprint of this browser profile's DPoP key (a bound token's
   * `cnf.jkt`); null without DPoP.
   */
  async dpopThumbprint() {
    return this.#dpop ? this.#dpop.thumbprint() : null;
  }

  /** With `dpop`: the key pair (its private key cannot be exported); null without DPoP. */
  async dpopKeyPair() {
    return this.#dpop ? this.#dpop.keyPair() : null;
  }

  /** The current session's id (as in `GET sessions/`), or null. */
  sessionId() {
    return this.#storage.get()?.sessionId ?? null;
  }

  /** The server's clock, as best known here (local clock + offset from the Date header). */
  serverNow() {
    return this.#now() + (this.#storage.get()?.clockOffset ?? this.#clockHint);
  }

  /** Milliseconds the access token has left by the server's clock (negative once expired). */
  expiresIn() {
    const record = this.#storage.get();
    return record ? record.accessExpiresAt - this.serverNow() : 0;
  }

  // --- requests ---

  /**
   * `fetch` with the access token (and a DPoP proof for a bound session), header pick-up,
   * and at most one replay for each cure: a refresh on 401 token_expired / token_revoked, the
   * server's nonce on use_dpop_nonce, a re-authentication (onStepUp) on
   * insufficient_user_authentication.
   */
  fetch(input, init) {
    return this.#fetchWithin(input, init, { renew: 1, nonce: 1, stepUp: 1 });
  }

  async #fetchWithin(input, init, budget) {
    for (;;) {
      // A Request's body can be read once: each attempt sends a copy.
      const attempt = await this.#attempt(input instanceof Request ? input.clone() : input, init);
      if (!(await this.#cure(attempt, budget))) return attempt.response;
    }
  }

  /** Should a request that got `response` go out again? Spends `budget`; never loops. */
  async #cure({ response, sent, sentAt }, budget) {
    if (response.status !== 401 && response.status !== 400) return false;
    const body = await errorBody(response);
    if (body.code === USE_DPOP_NONCE) {
      return this.#dpop !== null && response.headers.has("DPoP-Nonce") && budget.nonce-- > 0;
    }
    if (response.status !== 401) return false;
    if (STEP_UP_CODES.has(body.code)) {
      return budget.stepUp-- > 0 && this.stepUp(sent, stepUpChallenge(body), { sentAt });
    }
    const replay = await this.recover(sent, body.code, { replayed: budget.renew <= 0 });
    if (replay) budget.renew--;
    return replay;
  }

  async #attempt(input, init) {
    const { method, url } = requestTarget(input, init);
    const { token: sent, headers } = await this.authorize(method, url);
    const sentAt = this.#now();
    const response = await this.#fetch(input, withHeaders(input, init, headers));
    this.#dpop?.rememberNonce(url, response.headers.get("DPoP-Nonce"));
    const date = { header: response.headers.get("Date"), sentAt };
    this.pickUpHeader(response.headers.get(this.#headerName), sent, date);
    return { response, sent, sentAt };
  }

  /**
   * The headers that authenticate a `method` request to `url` (other HTTP libraries use it):
   * `Authorization: Bearer <access>`, or for a DPoP-bound session `Authorization: DPoP
   * <access>` and a fresh `DPoP` proof. `token` is the access token sent (null: none).
   */
  async authorize(method, url) {
    const record = this.#storage.get();
    const token = record?.access ?? null;
    if (!token) return { token, headers: {} };
    if (!this.#dpop || record.tokenType !== "DPoP") {
      return { token, headers: { Authorization: `Bearer ${token}` } };
    }
    const proof = await this.#dpop.proof({ method, url, accessToken: token, now: this.serverNow() });
    return { token, headers: { Authorization: `DPoP ${token}`, DPoP: proof } };
  }

  /**
   * For other HTTP libraries: a response from `url` carried `DPoP-Nonce: value`. True when
   * the nonce is new (a request refused with use_dpop_nonce is then worth one more try).
   */
  pickUpNonce(url, value) {
    return this.#dpop?.rememberNonce(url, value) ?? false;
  }

  /**
   * A response carried `NEW_HTTP_AUTHORIZATION` (`value`) for a request sent with `sent`:
   * keep the new token, unless a newer pair was stored meanwhile. True when stored. `date`:
   * the response's Date header, or `{header, sentAt}` (when the request left, local clock).
   */
  pickUpHeader(value, sent, date) {
    // "Bearer <token>", or "DPoP <token>" for a bound session (the binding is unchanged).
    const match = /^(?:Bearer|DPoP) +(\S+)\s*$/.exec(value ?? "");
    const token = match ? match[1] : "";
    const stored = this.#storage.get();
    // Only replace the token this response answered: after a refresh (here or in another
    // tab) the slid token is older than the stored pair.
    if (!token || !stored || stored.access !== sent || token === sent) return false;
    const exp = claimsOf(token).exp;
    const record = {
      ...stored,
      access: token,
      accessExpiresAt: typeof exp === "number" ? exp * 1000 : stored.accessExpiresAt,
    };
    this.#save(record, date);
    this.#emit("slide", { sessionId: record.sessionId });
    return true;
  }

  /**
   * A request sent with `sent` got a 401 with `code`. Resolves true when it should be replayed
   * with `accessToken()`: a newer token is stored, or a refresh just succeeded. Logs out on
   * codes that need a new login. With `replayed` (the request was already replayed once) it
   * only ever logs out: that is what keeps a server answering 401 from causing a loop.
   * Rejects with RefreshUnavailableError when a refresh failed for a transient reason.
   */
  async recover(sent, code, { replayed = false } = {}) {
    const stored = this.#storage.get();
    if (!stored || !sent) return false;
    if (stored.access !== sent) return !replayed; // refreshed or slid meanwhile, maybe elsewhere
    if (LOGOUT_CODES.has(code)) {
      this.#endSession(code, stored.sessionId);
      return false;
    }
    return REFRESH_CODES.has(code) && !replayed ? this.#refresh(sent, code) : false;
  }

  // --- refresh ---

  /** One refresh in flight per tab: every caller gets the same promise. */
  #refresh(sent, reason) {
    this.#inflight ??= this.#lock(() => this.#refreshLocked(sent, reason)).finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  async #refreshLocked(sent, reason) {
    // Read storage only now, holding the lock: another tab may have refreshed while we
    // waited, and its refresh token is the only one that is not stale.
    const stored = this.#storage.get();
    if ((stored?.access ?? null) !== sent) return stored !== null;
    const sentAt = this.#now();
    const response = await this.#postRefresh(stored?.refresh);
    if (response.ok) {
      const date = { header: response.headers.get("Date"), sentAt };
      this.#save(this.#recordFrom(await response.json()), date);
      this.#emit("refresh", { sessionId: this.sessionId(), reason });
      if (this.#storage.shared && this.#storage.area) await sleep(LOCK_SETTLE_MS);
      return true;
    }
    if (REFRESH_REFUSED.has(response.status)) {
      const code = (await errorCode(response)) ?? `refresh_${response.status}`;
      if (stored) this.#endSession(code, stored.sessionId);
      return false;
    }
    throw new RefreshUnavailableError(`refresh failed with HTTP ${response.status}`, {
      status: response.status,
      code: (await errorCode(response)) ?? `http_${response.status}`,
    });
  }

  /** POST refresh/: the refresh token in the body, or (cookie transport) none plus CSRF. */
  async #postRefresh(refresh) {
    const headers = { "Content-Type": "application/json" };
    const csrf = refresh ? null : readCookie(this.#csrfCookie);
    if (csrf) headers[this.#csrfHeader] = csrf;
    try {
      return await this.#postToken("refresh/", {
        headers,
        body: JSON.stringify(refresh ? { refresh } : {}),
        timeout: this.#refreshTimeout,
      });
    } catch (error) {
      throw new RefreshUnavailableError("refresh request failed", { cause: error });
    }
  }

  /**
   * POST to a token endpoint (login/, refresh/). With `dpop`, a proof of this browser's key
   * (no `ath`: no access token goes with it), so that the server binds the session to it or
   * checks the binding (a refresh token of a bound session is bound too, RFC 9449 §5); the
   * cookie transport's refresh has no stored pair to say whether it is bound, so it is sent
   * whenever `dpop` is on. One more try when the server asks for its nonce, or refuses a
   * proof whose `iat` came from a local clock that its `Date` header shows to be off.
   */
  async #postToken(path, { headers = {}, body, timeout }) {
    const url = new URL(path, this.#authURL).href;
    let measured = null; // the offset the last answer's Date header showed
    for (let tries = 0; ; tries++) {
      const sent = { "Content-Type": "application/json", ...headers };
      const proofTime = measured === null ? this.serverNow() : this.#now() + measured;
      if (this.#dpop) sent.DPoP = await this.#dpop.proof({ method: "POST", url, now: proofTime });
      const sentAt = this.#now();
      const response = await this.#fetch(url, {
        method: "POST",
        headers: sent,
        body,
        credentials: this.#credentials,
        signal: timeout ? globalThis.AbortSignal?.timeout?.(timeout) : undefined,
      });
      const offset = clockOffset(response.headers.get("Date"), sentAt, this.#now());
      if (offset !== null) this.#clockHint = offset;
      const nonce = response.headers.get("DPoP-Nonce");
      this.#dpop?.rememberNonce(url, nonce);
      if (tries > 0 || !this.#dpop || response.ok) return response;
      const code = await errorCode(response);
      const skewed = offset !== null && Math.abs(sentAt + offset - proofTime) > CLOCK_SKEW_MS;
      if (!(code === USE_DPOP_NONCE && nonce) && !(code === "invalid_dpop_proof" && skewed)) {
        return response;
      }
      measured = offset ?? measured;
    }
  }

  /**
   * Cookie transport: get an access token from the refresh cookie (page load with memory
   * storage). Resolves true when signed in; false (no event) when there is no valid cookie.
   */
  async resume() {
    if (this.isAuthenticated()) return true;
    return this.#refresh(null, "resume");
  }

  // --- login / logout ---

  /** POST login/ with `{username, password, device?, client?}`; rejects with LoginError. */
  async login(credentials) {
    const sentAt = this.#now();
    const response = await this.#postToken("login/", { body: JSON.stringify(credentials) });
    if (!response.ok) throw await refusal(response, "login");
    const body = await response.json();
    this.#save(this.#recordFrom(body), { header: response.headers.get("Date"), sentAt });
    this.#emit("login", { sessionId: body.session_id, source: "this-tab" });
    return body;
  }

  /** Logs this device out on the server (POST logout/), here and in every tab. */
  logout() {
    return this.#logoutVia("logout/", "logout");
  }

  /** Logs every device of the user out (POST logout-all/). */
  logoutAll() {
    return this.#logoutVia("logout-all/", "logout-all");
  }

  /**
   * Logs every other device of the user out and keeps this session (POST logout-others/).
   * Resolves true when the server did it. A step-up guard on it is answered like any other
   * request's (onStepUp).
   */
  async logoutOthers() {
    if (!this.isAuthenticated()) return false;
    const response = await this.fetch(new URL("logout-others/", this.#authURL), {
      method: "POST",
      credentials: this.#credentials,
    });
    return response.ok;
  }

  // --- step-up (RFC 9470) ---

  /**
   * POST reauthenticate/ with `{password}` (or the object given, for a project's own
   * verifier): the user proves who they are again, and this session gets a new token pair
   * with a fresh `auth_time` (same session, no other device touched). Rejects with
   * LoginError (`invalid_credentials`, `throttled`...) and then keeps the tokens.
   */
  async reauthenticate(password) {
    const sentAt = this.#now();
    const credentials = typeof password === "string" ? { password } : password;
    // Never a step-up of its own: it runs inside one (onStepUp), which would wait for itself.
    const response = await this.#fetchWithin(new URL("reauthenticate/", this.#authURL), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(credentials),
      credentials: this.#credentials,
    }, { renew: 1, nonce: 1, stepUp: 0 });
    if (!response.ok) throw await refusal(response, "re-authentication");
    const body = await response.json();
    this.#save(this.#recordFrom(body), { header: response.headers.get("Date"), sentAt });
    this.#emit("reauthenticate", { sessionId: body.session_id });
    return body;
  }

  /**
   * A request sent with `sent` got 401 insufficient_user_authentication (`challenge`:
   * `{maxAge, acrValues}`). Resolves true when it should be replayed with accessToken(): the
   * session was re-authenticated since `sent` was issued — by `onStepUp` here, or in another
   * tab. One prompt for every request of every tab that hits a guard meanwhile: one step-up
   * in flight per tab, one at a time across tabs (like a refresh), and a tab that gets the
   * lock after another's re-authentication replays without asking. False without onStepUp,
   * or when the user gave up — also for the requests that were sent before they did (`sentAt`,
   * local clock): one "no" is not asked again for each of them.
   */
  stepUp(sent, challenge = {}, { sentAt } = {}) {
    if (!this.#onStepUp || !sent) return Promise.resolve(false);
    if (sentAt !== undefined && sentAt <= this.#stepUpDeclinedAt) {
      return Promise.resolve(this.#reauthenticatedSince(sent));
    }
    this.#stepUpInflight ??= this.#stepUpLock(() => this.#stepUpLocked(sent, challenge))
      .finally(() => {
        this.#stepUpInflight = null;
      });
    return this.#stepUpInflight;
  }

  async #stepUpLocked(sent, challenge) {
    if (this.#reauthenticatedSince(sent)) return true;
    if (!this.isAuthenticated()) return false;
    try {
      await this.#onStepUp({ maxAge: challenge.maxAge ?? null, acrValues: challenge.acrValues ?? null });
    } catch {
      // the dialog was cancelled, or the re-authentication failed
    }
    if (!this.#reauthenticatedSince(sent)) {
      this.#stepUpDeclinedAt = this.#now();
      return false;
    }
    // The next lock holder (another tab) must read the new pair: see LOCK_SETTLE_MS.
    await sleep(LOCK_SETTLE_MS);
    return true;
  }

  /** Is the stored token of a later authentication (`auth_time`) than `sent`? */
  #reauthenticatedSince(sent) {
    const stored = this.#storage.get()?.access;
    if (!stored || stored === sent) return false;
    const now = authTime(stored);
    const then = authTime(sent);
    return now !== null && (then === null || now > then);
  }

  async #logoutVia(path, reason) {
    const sessionId = this.sessionId();
    if (!sessionId) return;
    try {
      await this.fetch(new URL(path, this.#authURL), {
        method: "POST",
        credentials: this.#credentials,
      });
    } finally {
      // Signed out here even when the server could not be told (network down).
      this.#endSession(reason, sessionId);
    }
  }

  /** GET sessions/: the user's signed-in devices. */
  async sessions() {
    const response = await this.fetch(new URL("sessions/", this.#authURL));
    if (!response.ok) throw new Error(`sessions: HTTP ${response.status}`);
    return response.json();
  }

  /** DELETE sessions/<id>/: logs that device out (this one: like logout()). */
  async revokeSession(id) {
    const current = this.sessionId();
    const response = await this.fetch(new URL(`sessions/${id}/`, this.#authURL), {
      method: "DELETE",
    });
    if (response.ok && id === current) this.#endSession("logout", current);
    return response.ok;
  }

  /** A WebSocket authenticated with this client's tokens: see `openSocket` below. */
  openSocket(url, options) {
    return openSocket(this, url, options);
  }

  /** The same, for DPoP-bound sessions too (a promise): see `connectSocket` below. */
  connectSocket(url, options) {
    return connectSocket(this, url, options);
  }

  /** Stops timers and cross-tab listeners (tests, single-page app teardown). */
  close() {
    clearTimeout(this.#timer);
    this.#channel.close();
  }

  // --- internals ---

  #recordFrom(body) {
    return {
      access: body.access,
      refresh: body.refresh ?? null, // absent with the cookie transport
      // "DPoP": the tokens are bound to this browser's key and go out with proofs.
      tokenType: body.token_type === "DPoP" ? "DPoP" : "Bearer",
      sessionId: body.session_id,
      accessExpiresAt: Date.parse(body.access_expires_at),
      refreshExpiresAt: Date.parse(body.refresh_expires_at),
      clockOffset: this.#storage.get()?.clockOffset ?? 0,
    };
  }

  /** Stores a new state of the session and tells the other tabs. */
  #save(record, date) {
    const { header, sentAt } = typeof date === "string" ? { header: date } : (date ?? {});
    const receivedAt = this.#now();
    const offset = clockOffset(header, sentAt ?? receivedAt, receivedAt);
    if (offset !== null) record.clockOffset = offset;
    this.#storage.set(record);
    this.#sessionId = record.sessionId;
    // Tabs sharing the storage re-read it; tabs with their own storage need the record.
    this.#channel.post({
      type: "tokens",
      sessionId: record.sessionId,
      record: this.#storage.shared ? undefined : record,
    });
    this.#schedule();
  }

  /** Clears the session `sessionId` (if still stored), tells the other tabs, emits logout. */
  #endSession(reason, sessionId) {
    if (this.#storage.get()?.sessionId === sessionId) this.#storage.set(null);
    this.#channel.post({ type: "logout", sessionId });
    this.#signedOut(reason);
  }

  #signedOut(reason) {
    clearTimeout(this.#timer);
    if (this.#sessionId === null) return; // once per session, however many requests failed
    this.#sessionId = null;
    this.#emit("logout", { reason });
  }

  /** Another tab changed the tokens or logged out. */
  #onRemote(message) {
    if (!this.#storage.shared && !this.#adopt(message)) return;
    const record = this.#storage.get();
    if (!record) {
      this.#signedOut("other-tab");
    } else if (record.sessionId !== this.#sessionId) {
      this.#sessionId = record.sessionId;
      this.#emit("login", { sessionId: record.sessionId, source: "other-tab" });
    } else {
      this.#emit("tokens", { sessionId: record.sessionId, source: "other-tab" });
    }
    this.#schedule();
  }

  /** Per-tab storage: follow the other tabs' changes to our session. True when changed. */
  #adopt(message) {
    const mine = this.#storage.get();
    if (!mine || message.sessionId !== mine.sessionId) return false;
    if (message.type === "logout") {
      this.#storage.set(null);
      return true;
    }
    if (!message.record || !isNewer(message.record, mine)) return false;
    this.#storage.set(message.record);
    return true;
  }

  /** Proactive refresh a little before expiry (option refreshBeforeExpiry), by server time. */
  #schedule() {
    clearTimeout(this.#timer);
    const record = this.#storage.get();
    // Once per access token: a refresh that failed or was skipped does not retry in a loop.
    if (!this.#refreshBefore || !record || record.access === this.#proactiveTriedFor) return;
    const { iat, exp } = claimsOf(record.access);
    // Never more than half the token's lifetime early, or short tokens would refresh nonstop.
    const lifetime = typeof iat === "number" && typeof exp === "number" ? (exp - iat) * 1000 : 0;
    const lead = lifetime ? Math.min(this.#refreshBefore, lifetime / 2) : this.#refreshBefore;
    const delay = Math.min(Math.max(0, this.expiresIn() - lead), MAX_TIMER_DELAY);
    this.#timer = setTimeout(() => {
      this.#proactiveTriedFor = record.access;
      this.#refresh(record.access, "proactive")
        .catch(() => {}) // transient: the next request will refresh on its 401
        .finally(() => this.#schedule());
    }, delay);
    this.#timer.unref?.();
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

// --- WebSockets (django_doubletoken.channels) ---------------------------------------------

/** The server's close codes; the close reason is the error code itself. */
export const SOCKET_CLOSE_CODES = Object.freeze(
  Object.fromEntries(
    Object.entries(ERROR_CODES)
      .filter(([, { closeCode }]) => closeCode !== null)
      .map(([code, { closeCode }]) => [code, closeCode]),
  ),
);
const SOCKET_PROTOCOL = "doubletoken";
// Browsers cannot set headers on a WebSocket: a DPoP proof of the handshake travels as the
// subprotocol element after this marker (and in the token message, as "dpop").
const SOCKET_DPOP_PROTOCOL = "doubletoken.dpop";
const OPEN = 1;

function socketURL(url) {
  const target = new URL(url, globalThis.location?.href);
  if (target.protocol === "http:" || target.protocol === "https:") {
    target.protocol = target.protocol === "https:" ? "wss:" : "ws:";
  }
  return target;
}

/**
 * Opens a WebSocket to `url` (http(s) URLs become ws(s)) with the access token as a
 * `Sec-WebSocket-Protocol` value after the `doubletoken` marker, and keeps it authenticated:
 * every new token of the session (slide, refresh, re-authentication, another tab) is sent
 * over it as `{"type": "doubletoken.authenticate", "token": ...}`, and shortly before the
 * socket's token expires without a newer one, the client refreshes first. When the server
 * closes it because the session is over (4001, 4004-4006), the client logs out as on an
 * HTTP 401 with that code. Returns the WebSocket; reconnecting after other closes is the
 * application's call. Options: `protocols` (the application's own), `renewBefore` (seconds,
 * default 5). A DPoP-bound session's socket needs a proof, which takes a moment to sign: use
 * `connectSocket` (a promise of the socket) for those; this throws.
 */
export function openSocket(client, url, { protocols = [], renewBefore = 5 } = {}) {
  const current = client.accessToken();
  if (!current) throw new Error("openSocket: not signed in");
  if (client.isBound()) throw new Error("openSocket: a DPoP-bound session needs connectSocket()");
  const socket = new WebSocket(socketURL(url), [SOCKET_PROTOCOL, current, ...protocols]);
  return keepAuthenticated(client, socket, current, { renewBefore });
}

/**
 * `openSocket` for every session, DPoP-bound ones included: resolves to the WebSocket. With
 * DPoP the handshake carries a proof of this browser's key (`htm` GET, `htu` the socket's
 * ws(s) URL without query) after the `doubletoken.dpop` marker:
 * `["doubletoken", <access>, "doubletoken.dpop", <proof>, ...protocols]`, and every token
 * sent over the socket a fresh one: `{"type": "doubletoken.authenticate", "token", "dpop"}`.
 */
export async function connectSocket(client, url, { protocols = [], renewBefore = 5 } = {}) {
  const target = socketURL(url);
  const { token, headers } = await client.authorize("GET", target.href);
  if (!token) throw new Error("connectSocket: not signed in");
  const offered = [SOCKET_PROTOCOL, token];
  if (headers.DPoP) offered.push(SOCKET_DPOP_PROTOCOL, headers.DPoP);
  const socket = new WebSocket(target, [...offered, ...protocols]);
  return keepAuthenticated(client, socket, token, { renewBefore, url: target.href });
}

function keepAuthenticated(client, socket, first, { renewBefore, url }) {
  let current = first;
  let timer = null;

  const sendNewest = async () => {
    const token = client.accessToken();
    if (!token || token === current || socket.readyState !== OPEN) return;
    current = token;
    const message = { type: "doubletoken.authenticate", token };
    if (client.isBound()) {
      const { token: signed, headers } = await client.authorize("GET", url ?? socket.url);
      if (signed !== token || !headers.DPoP) { // changed while signing: send the newest
        current = null;
        return sendNewest();
      }
      message.dpop = headers.DPoP;
    }
    if (socket.readyState !== OPEN) return;
    socket.send(JSON.stringify(message));
    schedule();
  };
  const schedule = () => {
    clearTimeout(timer);
    const { iat, exp } = claimsOf(current);
    if (typeof exp !== "number") return;
    // Never more than half the token's lifetime early, or short tokens would renew nonstop.
    const lifetime = typeof iat === "number" ? (exp - iat) * 1000 : Infinity;
    const lead = Math.min(renewBefore * 1000, lifetime / 2);
    const delay = Math.min(Math.max(0, exp * 1000 - client.serverNow() - lead), MAX_TIMER_DELAY);
    timer = setTimeout(async () => {
      if (client.accessToken() === current) {
        try {
          await client.recover(current, "token_expired"); // one refresh, shared with requests
        } catch {
          // transient: the socket closes at expiry with 4002; the application may reconnect
        }
      }
      sendNewest().catch(() => {});
    }, delay);
  };
  const onTokens = () => {
    sendNewest().catch(() => {});
  };
  const onLogout = () => {
    if (socket.readyState <= OPEN) socket.close(1000, "logout");
  };
  const events = ["slide", "refresh", "tokens", "reauthenticate"];
  for (const type of events) client.addEventListener(type, onTokens);
  client.addEventListener("logout", onLogout);
  socket.addEventListener("open", () => {
    onTokens(); // the token may have changed during the handshake
    schedule();
  });
  socket.addEventListener("close", (event) => {
    clearTimeout(timer);
    for (const type of events) client.removeEventListener(type, onTokens);
    client.removeEventListener("logout", onLogout);
    // The reason is the code, then the challenge's parameters: use_dpop_nonce nonce="...".
    const [code, params = ""] = (event.reason ?? "").split(/ (.*)/s);
    if (SOCKET_CLOSE_CODES[code] !== event.code) return;
    if (LOGOUT_CODES.has(code)) client.recover(current, code).catch(() => {});
    if (code === USE_DPOP_NONCE) {
      // The next socket (the application reconnects) carries the server's nonce.
      const nonce = /(?:^|[ ,])nonce="([^"]*)"/.exec(params)?.[1];
      client.pickUpNonce(url ?? socket.url, nonce);
    }
  });
  return socket;
}

/** A client; see DoubleTokenClient and the options in doubletoken.d.ts. */
export function createClient(options) {
  return new DoubleTokenClient(options);
}
