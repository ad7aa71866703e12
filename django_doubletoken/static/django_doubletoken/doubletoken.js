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
 * - `openSocket()`: a WebSocket authenticated for django_doubletoken.channels, kept alive past
 *   access-token expiry by sending each new token over it.
 *
 * Types: doubletoken.d.ts. Usage: docs/how-to/js-client.md in django-doubletoken.
 */

/**
 * What the client does for each error code, and the WebSocket close code of those that close
 * a socket: the server's one table (django_doubletoken.errors.ERROR_CODES), which the test
 * suite checks this copy against. Actions: "refresh" and "use_newer_token" (renew the access
 * token, then replay once), "login" (the session is over), "retry", "fix_request".
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
  request_too_large: Object.freeze({ action: "fix_request", closeCode: null }),
  unsupported_media_type: Object.freeze({ action: "fix_request", closeCode: null }),
});
const codesWhere = (test) =>
  new Set(Object.keys(ERROR_CODES).filter((code) => test(ERROR_CODES[code])));
// 401 codes that a refresh cures, and those that mean "log in again".
const REFRESH_CODES = codesWhere(({ action }) => ["refresh", "use_newer_token"].includes(action));
const LOGOUT_CODES = codesWhere(({ action }) => action === "login");
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

/** Login refused: `code` is the server's (`invalid_credentials`, ...), `status` the HTTP status. */
export class LoginError extends Error {
  constructor(message, { status, code }) {
    super(message);
    this.name = "LoginError";
    this.status = status;
    this.code = code;
  }
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

async function errorCode(response) {
  try {
    const body = await response.clone().json();
    return typeof body?.code === "string" ? body.code : undefined;
  } catch {
    return undefined;
  }
}

function readCookie(name) {
  const cookies = globalThis.document?.cookie ?? "";
  for (const part of cookies.split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return decodeURIComponent(value.join("="));
  }
  return null;
}

function withBearer(input, init, token) {
  const base = init?.headers ?? (input instanceof Request ? input.headers : undefined);
  const headers = new Headers(base);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  return { ...init, headers };
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

  /** The current session's id (as in `GET sessions/`), or null. */
  sessionId() {
    return this.#storage.get()?.sessionId ?? null;
  }

  /** The server's clock, as best known here (local clock + offset from the Date header). */
  serverNow() {
    return this.#now() + (this.#storage.get()?.clockOffset ?? 0);
  }

  /** Milliseconds the access token has left by the server's clock (negative once expired). */
  expiresIn() {
    const record = this.#storage.get();
    return record ? record.accessExpiresAt - this.serverNow() : 0;
  }

  // --- requests ---

  /** `fetch` with the access token, header pick-up, and one refresh-and-replay on 401. */
  async fetch(input, init) {
    // A Request's body can be read once: keep a copy for the replay.
    const again = input instanceof Request ? input.clone() : input;
    const first = await this.#attempt(input, init);
    if (!(await this.#recoverFrom(first))) return first.response;
    const second = await this.#attempt(again, init);
    await this.#recoverFrom(second, { replayed: true }); // may log out; never replays again
    return second.response;
  }

  async #recoverFrom({ response, sent }, options) {
    if (response.status !== 401) return false;
    return this.recover(sent, await errorCode(response), options);
  }

  async #attempt(input, init) {
    const sent = this.accessToken();
    const sentAt = this.#now();
    const response = await this.#fetch(input, withBearer(input, init, sent));
    const date = { header: response.headers.get("Date"), sentAt };
    this.pickUpHeader(response.headers.get(this.#headerName), sent, date);
    return { response, sent };
  }

  /**
   * A response carried `NEW_HTTP_AUTHORIZATION` (`value`) for a request sent with `sent`:
   * keep the new token, unless a newer pair was stored meanwhile. True when stored. `date`:
   * the response's Date header, or `{header, sentAt}` (when the request left, local clock).
   */
  pickUpHeader(value, sent, date) {
    const token = value?.startsWith("Bearer ") ? value.slice(7).trim() : "";
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
      return await this.#fetch(new URL("refresh/", this.#authURL), {
        method: "POST",
        headers,
        body: JSON.stringify(refresh ? { refresh } : {}),
        credentials: this.#credentials,
        signal: globalThis.AbortSignal?.timeout?.(this.#refreshTimeout),
      });
    } catch (error) {
      throw new RefreshUnavailableError("refresh request failed", { cause: error });
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
    const response = await this.#fetch(new URL("login/", this.#authURL), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(credentials),
      credentials: this.#credentials,
    });
    if (!response.ok) {
      let body = {};
      try {
        body = await response.json();
      } catch {
        // not JSON: keep the status only
      }
      throw new LoginError(body.detail ?? `login failed with HTTP ${response.status}`, {
        status: response.status,
        code: body.code ?? `http_${response.status}`,
      });
    }
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
const OPEN = 1;

/**
 * Opens a WebSocket to `url` (http(s) URLs become ws(s)) with the access token as a
 * `Sec-WebSocket-Protocol` value after the `doubletoken` marker, and keeps it authenticated:
 * every new token of the session (slide, refresh, another tab) is sent over it as
 * `{"type": "doubletoken.authenticate", "token": ...}`, and shortly before the socket's token
 * expires without a newer one, the client refreshes first. When the server closes it because
 * the session is over (4001, 4004-4006), the client logs out as on an HTTP 401 with that
 * code. Returns the WebSocket; reconnecting after other closes is the application's call.
 * Options: `protocols` (the application's own), `renewBefore` (seconds, default 5).
 */
export function openSocket(client, url, { protocols = [], renewBefore = 5 } = {}) {
  let current = client.accessToken();
  if (!current) throw new Error("openSocket: not signed in");
  const target = new URL(url, globalThis.location?.href);
  if (target.protocol === "http:" || target.protocol === "https:") {
    target.protocol = target.protocol === "https:" ? "wss:" : "ws:";
  }
  const socket = new WebSocket(target, [SOCKET_PROTOCOL, current, ...protocols]);
  let timer = null;

  const sendNewest = () => {
    const token = client.accessToken();
    if (!token || token === current || socket.readyState !== OPEN) return;
    current = token;
    socket.send(JSON.stringify({ type: "doubletoken.authenticate", token }));
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
      sendNewest();
    }, delay);
  };
  const onTokens = () => sendNewest();
  const onLogout = () => {
    if (socket.readyState <= OPEN) socket.close(1000, "logout");
  };
  const events = ["slide", "refresh", "tokens"];
  for (const type of events) client.addEventListener(type, onTokens);
  client.addEventListener("logout", onLogout);
  socket.addEventListener("open", () => {
    sendNewest(); // the token may have changed during the handshake
    schedule();
  });
  socket.addEventListener("close", (event) => {
    clearTimeout(timer);
    for (const type of events) client.removeEventListener(type, onTokens);
    client.removeEventListener("logout", onLogout);
    if (LOGOUT_CODES.has(event.reason) && SOCKET_CLOSE_CODES[event.reason] === event.code) {
      client.recover(current, event.reason).catch(() => {});
    }
  });
  return socket;
}

/** A client; see DoubleTokenClient and the options in doubletoken.d.ts. */
export function createClient(options) {
  return new DoubleTokenClient(options);
}
