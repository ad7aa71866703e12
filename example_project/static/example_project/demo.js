// The demo page: the JS client signing in, calling the API, refreshing, listing devices, and
// asking for the password again before a sensitive action (step-up).
import { SOCKET_CLOSE_CODES, createClient } from "../django_doubletoken/doubletoken.js";

const config = document.body.dataset;
const cookieMode = config.cookieMode === "true";
const BURST = 20;

// docs/how-to/js-client.md shows the sections marked "--8<--".
// --8<-- [start:client]
const auth = createClient({
  authURL: config.authUrl,
  // With the cookie transport the refresh token is out of reach of scripts, and the access
  // token stays in memory (resume() gets a new one at page load). Otherwise localStorage,
  // shared by the tabs: they see one token pair.
  storage: cookieMode ? "memory" : "local",
  // ?proactive=5 refreshes 5 s before expiry even without API calls.
  refreshBeforeExpiry: Number(new URLSearchParams(location.search).get("proactive")) || 0,
  // The profile binds sessions to a key (DPOP "optional" or "required"): this browser's
  // non-extractable key, kept in IndexedDB, signs a proof for each request.
  dpop: config.dpop === "true",
  // A sensitive endpoint wants a more recent sign-in: ask for the password (once, however
  // many requests and tabs hit it), re-authenticate this session, and the client replays.
  onStepUp: (challenge) => confirmIdentity(challenge),
});
// --8<-- [end:client]

const $ = (selector) => document.querySelector(selector);

// --- log -----------------------------------------------------------------------------------

function log(kind, message) {
  const item = document.createElement("li");
  item.dataset.kind = kind;
  const time = document.createElement("time");
  time.textContent = new Date().toISOString().slice(11, 23);
  item.append(time, ` ${message}`);
  $("#log").prepend(item);
}

const short = (id) => (id ? `${id.slice(0, 8)}…` : "");

auth.addEventListener("login", ({ detail }) => {
  if (detail.source === "other-tab") {
    log("login", `Signed in from another tab (session ${short(detail.sessionId)})`);
    showApp();
  }
});
auth.addEventListener("refresh", ({ detail }) => {
  log("refresh", `This tab refreshed the token pair (${detail.reason})`);
});
auth.addEventListener("slide", () => log("slide", "Picked up NEW_HTTP_AUTHORIZATION"));
auth.addEventListener("tokens", () => {
  log("tokens", "Another tab stored new tokens");
  showBinding();
});
auth.addEventListener("reauthenticate", () => {
  log("step-up", "Re-authenticated: a new token pair for this session (fresh auth_time)");
});
auth.addEventListener("logout", ({ detail }) => showLogin(detail.reason));

// --- views ---------------------------------------------------------------------------------

let accountDeleted = false;
const LOGOUT_MESSAGES = {
  logout: "Signed out.",
  "logout-all": "Signed out of every device.",
  "other-tab": "Signed out in another tab.",
};

function showLogin(reason) {
  document.body.dataset.state = "signed-out";
  $("#app-view").hidden = true;
  $("#login-view").hidden = false;
  $("#logout-reason").hidden = !reason;
  $("#logout-reason").textContent = accountDeleted
    ? "Your account was deleted."
    : reason
      ? (LOGOUT_MESSAGES[reason] ?? `This device was logged out by the server (${reason}).`)
      : "";
  $("#devices tbody").replaceChildren();
}

// With CALL_SECONDS set (scripts/demo sets it), the page calls the API on its own: the call
// that lands in the token's sliding window shows a slide without a click.
let caller = null;
const CALL_SECONDS = Number(config.callSeconds) || 0;

function callPeriodically() {
  if (!CALL_SECONDS || caller) return;
  caller = setInterval(async () => {
    if (!auth.isAuthenticated()) {
      clearInterval(caller);
      caller = null;
      return;
    }
    const response = await auth.fetch(config.meUrl).catch(() => null);
    log("call", `GET ${config.meUrl} (every ${CALL_SECONDS} s): ${response?.status ?? "failed"}`);
  }, CALL_SECONDS * 1000);
}

async function showApp() {
  document.body.dataset.state = "signed-in";
  connectSocket();
  callPeriodically();
  $("#login-view").hidden = true;
  $("#app-view").hidden = false;
  $("#session").textContent = auth.sessionId();
  showBinding();
  const response = await auth.fetch(config.meUrl);
  if (response.ok) $("#user").textContent = (await response.json()).username;
  await loadDevices();
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  $("#login-error").hidden = true;
  try {
    await auth.login({
      username: form.get("username"),
      password: form.get("password"),
      device: form.get("device") || "Demo page",
    });
  } catch (error) {
    $("#login-error").textContent = error.message;
    $("#login-error").hidden = false;
    return;
  }
  event.target.reset();
  accountDeleted = false;
  log("login", `Signed in (session ${short(auth.sessionId())})`);
  await showApp();
});

// --- the WebSocket: ticks while signed in, closed by the server on logout -----------------

let socket = null;
const SESSION_OVER = new Set(["token_invalid", "session_revoked", "session_expired",
                              "refresh_reused"].map((code) => SOCKET_CLOSE_CODES[code]));

function showSocket(state, detail) {
  $("#socket-state").dataset.state = state;
  $("#socket-state").textContent = state;
  $("#socket-detail").textContent = detail;
}

let connecting = false;

async function connectSocket() {
  if (connecting || (socket && socket.readyState <= WebSocket.OPEN)) return;
  showSocket("connecting", "");
  let ticks = 0;
  let wasOpen = false;
  // connectSocket(): a DPoP-bound session's handshake carries a proof, signed asynchronously.
  connecting = true;
  let opened;
  try {
    opened = await auth.connectSocket(config.socketUrl);
  } catch (error) {
    showSocket("closed", error.message);
    return;
  } finally {
    connecting = false;
  }
  socket = opened;
  opened.addEventListener("open", () => {
    wasOpen = true;
    showSocket("open", "waiting for the first tick");
  });
  opened.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "tick") {
      ticks = message.count;
      showSocket("open", `${ticks} tick${ticks === 1 ? "" : "s"}, last at ${message.at.slice(11, 19)}`);
    } else if (message.type === "doubletoken.authenticated") {
      log("socket", "Sent the new access token over the WebSocket");
    }
  });
  opened.addEventListener("close", (event) => {
    const why = event.reason ? `${event.reason} (${event.code})` : `code ${event.code}`;
    showSocket("closed", `${why} after ${ticks} ticks`);
    log("socket", `WebSocket closed: ${why}`);
    if (socket === opened) socket = null;
    // An open socket closed for another reason than a finished session (network, server
    // restart, a token that could not be renewed in time): reconnect once an API call has
    // renewed the tokens. (A server without WebSockets never opens it: no retries.)
    if (wasOpen && auth.isAuthenticated() && event.code !== 1000 &&
        !SESSION_OVER.has(event.code)) {
      setTimeout(async () => {
        if (!auth.isAuthenticated()) return;
        await auth.fetch(config.meUrl).catch(() => {});
        if (auth.isAuthenticated()) connectSocket();
      }, 2000);
    }
  });
}

// --- DPoP: is the session bound to this browser's key? --------------------------------------

async function showBinding() {
  if (!auth.isAuthenticated()) return;
  const binding = $("#binding");
  const bound = auth.isBound();
  const jkt = claims(auth.accessToken()).cnf?.jkt ?? "";
  const thumbprint = (await auth.dpopThumbprint()) ?? "";
  binding.dataset.bound = String(bound);
  binding.dataset.jkt = jkt;
  binding.dataset.thumbprint = thumbprint;
  binding.textContent = bound ? "bound to this browser's key (DPoP)" : "none (Bearer token)";
  $("#binding-detail").textContent = bound
    ? `key ${short(thumbprint)} (not extractable) · token cnf.jkt ${short(jkt)}`
    : config.dpop === "true" ? "the server did not bind this session" : "DPoP is off here";
}

// --- step-up: "confirm it's you" -------------------------------------------------------------

function duration(seconds) {
  return seconds >= 120 ? `${Math.round(seconds / 60)} minutes` : `${seconds} seconds`;
}

// --8<-- [start:step-up]
/** The client's onStepUp: resolves once the user re-authenticated, rejects if they cancel. */
function confirmIdentity({ maxAge, acrValues }) {
  const dialog = $("#step-up");
  const form = $("#step-up-form");
  form.reset();
  $("#step-up-error").hidden = true;
  $("#step-up-reason").textContent = maxAge !== null
    ? `This action needs a sign-in from the last ${duration(maxAge)}: enter your password.`
    : `This action needs a stronger sign-in (${(acrValues ?? []).join(", ")}).`;
  log("step-up", `The server asked for a recent sign-in${maxAge !== null ? ` (max_age ${maxAge} s)` : ""}`);
  return new Promise((resolve, reject) => {
    const finish = () => {
      form.removeEventListener("submit", onSubmit);
      $("#step-up-cancel").removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      dialog.close();
    };
    const onSubmit = async (event) => {
      event.preventDefault();
      $("#step-up-confirm").disabled = true;
      try {
        await auth.reauthenticate(new FormData(form).get("password"));
      } catch (error) {
        $("#step-up-error").textContent = error.message;
        $("#step-up-error").hidden = false;
        return;
      } finally {
        $("#step-up-confirm").disabled = false;
      }
      finish();
      resolve();
    };
    const onCancel = (event) => {
      event.preventDefault();
      finish();
      log("step-up", "Step-up cancelled: the action was not done");
      reject(new Error("cancelled"));
    };
    form.addEventListener("submit", onSubmit);
    $("#step-up-cancel").addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel); // Escape
    dialog.showModal();
    $("#step-up-password").focus();
  });
}
// --8<-- [end:step-up]

// --- account: sensitive actions behind the step-up guard -------------------------------------

async function showAccountResult(response, success) {
  const result = $("#account-result");
  if (response.ok) {
    result.textContent = success;
    result.dataset.done = "ok";
    return true;
  }
  const body = await response.json().catch(() => ({}));
  // invalid_input names each field's messages under errors
  const fields = Object.entries(body.errors ?? {})
    .filter(([, value]) => Array.isArray(value))
    .map(([name, value]) => `${name}: ${value.join(" ")}`);
  result.textContent = [body.detail ?? `HTTP ${response.status}`, ...fields].join(" · ");
  result.dataset.done = "failed";
  return false;
}

$("#password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  $("#account-result").removeAttribute("data-done");
  const response = await auth.fetch(config.passwordUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      old_password: form.get("old_password"),
      new_password: form.get("new_password"),
    }),
  });
  if (await showAccountResult(response, "Password changed. Your other devices are signed out.")) {
    event.target.reset();
    log("account", "Password changed");
    await loadDevices();
  }
});

$("#logout-others").addEventListener("click", async () => {
  $("#account-result").removeAttribute("data-done");
  const done = await auth.logoutOthers().catch(() => false);
  $("#account-result").textContent = done
    ? "Every other device is signed out; this one stays."
    : "The other devices could not be signed out.";
  $("#account-result").dataset.done = done ? "ok" : "failed";
  if (done) log("account", "Signed out the other devices");
  await loadDevices();
});

$("#delete-account").addEventListener("click", () => {
  $("#delete-account-confirm").hidden = false;
});

$("#delete-account-confirm").addEventListener("click", async () => {
  $("#delete-account-confirm").hidden = true;
  $("#account-result").removeAttribute("data-done");
  const response = await auth.fetch(config.accountUrl, { method: "DELETE" });
  if (await showAccountResult(response, "Account deleted.")) {
    accountDeleted = true;
    // The server ended every session with the account: forget the tokens here too.
    await auth.logout().catch(() => {});
  }
});

// --- the access token's remaining time ------------------------------------------------------

function tick() {
  if (!auth.isAuthenticated()) return;
  const left = auth.expiresIn();
  const remaining = $("#remaining");
  remaining.toggleAttribute("data-expired", left <= 0);
  remaining.textContent =
    left > 0 ? `${(left / 1000).toFixed(1)} s left` : `expired ${(-left / 1000).toFixed(0)} s ago`;
  const { iat, exp } = claims(auth.accessToken());
  const lifetime = (exp - iat) * 1000 || 1;
  $("#remaining-bar").style.width = `${Math.max(0, Math.min(100, (100 * left) / lifetime))}%`;
}

function claims(token) {
  try {
    return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return {};
  }
}

setInterval(tick, 100);

// --- actions -------------------------------------------------------------------------------

$("#burst").addEventListener("click", async () => {
  const result = $("#burst-result");
  result.removeAttribute("data-done");
  result.textContent = `${BURST} calls in flight…`;
  const started = performance.now();
  const call = () => auth.fetch(config.meUrl).then(outcome, (error) => error.name);
  const outcomes = await Promise.all(Array.from({ length: BURST }, call));
  const ok = outcomes.filter((o) => o === "ok").length;
  const took = Math.round(performance.now() - started);
  result.textContent = `${ok}/${BURST} calls succeeded (${took} ms)`;
  result.dataset.done = ok === BURST ? "ok" : "failed";
  log("burst", `${ok}/${BURST} parallel calls succeeded${failures(outcomes)}`);
});

/** "ok", or why a call failed: "401 session_revoked", "503 cache_unavailable"... */
async function outcome(response) {
  if (response.ok) return "ok";
  const body = await response.json().catch(() => ({}));
  return `${response.status} ${body.code ?? ""}`.trim();
}

function failures(outcomes) {
  const counts = new Map();
  for (const o of outcomes.filter((o) => o !== "ok")) counts.set(o, (counts.get(o) ?? 0) + 1);
  return counts.size ? `; failed: ${[...counts].map(([o, n]) => `${o} ×${n}`).join(", ")}` : "";
}

$("#logout").addEventListener("click", () => auth.logout().catch(() => {}));
$("#logout-all").addEventListener("click", () => auth.logoutAll().catch(() => {}));
$("#reload-devices").addEventListener("click", () => loadDevices());
$("#clear-log").addEventListener("click", () => $("#log").replaceChildren());

// --- devices -------------------------------------------------------------------------------

function ago(iso) {
  const seconds = Math.max(0, Math.round((auth.serverNow() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return new Date(iso).toLocaleString();
}

function deviceRow(device) {
  const row = document.createElement("tr");
  row.dataset.sessionId = device.id;
  for (const text of [device.device || "—", device.client, device.ip || "—",
                      ago(device.created_at), ago(device.last_used_at)]) {
    const cell = document.createElement("td");
    cell.textContent = text;
    row.append(cell);
  }
  const action = document.createElement("td");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "revoke secondary";
  button.textContent = "Log out this device";
  button.addEventListener("click", async () => {
    if (await auth.revokeSession(device.id).catch(() => false)) loadDevices();
  });
  if (device.current) {
    row.classList.add("current");
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = "this device";
    action.append(badge, " ");
  }
  action.append(button);
  row.append(action);
  return row;
}

async function loadDevices() {
  if (!auth.isAuthenticated()) return;
  try {
    const devices = await auth.sessions();
    $("#devices tbody").replaceChildren(...devices.map(deviceRow));
  } catch (error) {
    if (auth.isAuthenticated()) log("error", `Could not load the devices: ${error.message}`);
  }
}

// --- start ---------------------------------------------------------------------------------

function describeMechanisms() {
  let storage = cookieMode
    ? "refresh token in an HttpOnly cookie, access token in memory"
    : "tokens in localStorage, shared by the tabs";
  if (config.dpop === "true") storage += " and bound to a non-extractable key in IndexedDB (DPoP)";
  const lock = navigator.locks ? "Web Locks" : "a localStorage lease";
  // As the client does: tabs sharing localStorage follow its storage events; tabs with their
  // own storage hear of new tokens over a BroadcastChannel.
  let messages = "storage events";
  if (cookieMode) messages = typeof BroadcastChannel === "function" ? "BroadcastChannel" : "—";
  $("#mechanisms").textContent =
    `${storage} · one refresh at a time across tabs with ${lock} · tabs follow through ${messages}`;
}

describeMechanisms();
if (cookieMode) await auth.resume().catch(() => false);
if (auth.isAuthenticated()) await showApp();
else showLogin();
