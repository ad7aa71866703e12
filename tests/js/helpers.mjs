// Shared by the node tests: the live server's address (from tests/test_js_client.py), a client
// factory, and the server's own count of the refresh requests that reached it.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after } from "node:test";

import { createClient } from "../../django_doubletoken/static/django_doubletoken/doubletoken.js";

export const BASE = process.env.DOUBLETOKEN_TEST_URL;
assert.ok(BASE, "run through pytest tests/test_js_client.py (it starts the server)");
export const AUTH_URL = `${BASE}/api/auth/`;
export const ME_URL = `${BASE}/api/me/`;
export const USERNAME = process.env.DOUBLETOKEN_TEST_USER;
export const PASSWORD = process.env.DOUBLETOKEN_TEST_PASSWORD;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const clients = [];
after(() => clients.forEach((client) => client.close()));

/**
 * A client on the live server. Each gets its own channel name unless `name` is given, since
 * every BroadcastChannel of a node process hears the others (like tabs of one origin).
 */
export function newClient(options = {}) {
  const client = createClient({ authURL: AUTH_URL, name: `test-${randomUUID()}`, ...options });
  clients.push(client);
  return client;
}

/** Records the client's events: [{type, at (ms), ...detail}]. */
export function recordEvents(client) {
  const events = [];
  for (const type of ["login", "refresh", "slide", "tokens", "logout"]) {
    client.addEventListener(type, (event) => events.push({ type, at: Date.now(), ...event.detail }));
  }
  return events;
}

export function login(client, device = "node test", profile = undefined) {
  return client.login({ username: USERNAME, password: PASSWORD, device, client: profile });
}

/**
 * Replaces the access token in `storage` with a genuine one of the same session that expired
 * 5 s ago (minted by the test server): the next calls start from token_expired without
 * waiting for a lifetime to run out. With the "roomy" profile (2 min tokens) the token the
 * refresh hands out then outlives any burst of replays, however loaded the machine.
 */
export async function expireStoredToken(storage) {
  const record = storage.get();
  const response = await fetch(`${BASE}/__test__/expired-access/`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ access: record.access }),
  });
  assert.equal(response.status, 200);
  const { access } = await response.json();
  storage.set({ ...record, access, accessExpiresAt: Date.now() - 5000 });
}

/** Sleeps until the client's access token has expired by the server's clock. */
export async function untilExpired(client) {
  await sleep(Math.max(0, client.expiresIn()) + 300);
}

/** What the server saw for a session: {refreshes, rotations, expired_hits}. */
export async function serverCounts(sessionId) {
  const response = await fetch(`${BASE}/__test__/counts/${sessionId}/`);
  assert.equal(response.status, 200);
  return response.json();
}

/** Storage shared by several clients of one process, as localStorage is by tabs. */
export function sharedStorage() {
  let json = null; // a copy each time, as with localStorage
  return {
    shared: true,
    get: () => JSON.parse(json),
    set: (value) => {
      json = value ? JSON.stringify(value) : null;
    },
  };
}

/** An in-process mutex per name standing in for Web Locks (which Node 20 lacks). */
export function processLock() {
  const tails = new Map();
  return (name, callback) => {
    const run = (tails.get(name) ?? Promise.resolve()).then(() => callback());
    tails.set(name, run.catch(() => {}));
    return run;
  };
}

export async function meStatus(client) {
  const response = await client.fetch(ME_URL);
  return response.status;
}

/**
 * Replaces the access token in `storage` with a genuine one of the same session whose user
 * authenticated an hour ago (`auth_time`, minted by the test server): a step-up guard then
 * refuses it at once.
 */
export async function ageStoredToken(storage) {
  const record = storage.get();
  const response = await fetch(`${BASE}/__test__/aged-access/`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ access: record.access }),
  });
  assert.equal(response.status, 200);
  const { access } = await response.json();
  storage.set({ ...record, access });
}
