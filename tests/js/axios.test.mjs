// The axios adapter: the same semantics as client.fetch. Uses the real axios when
// DOUBLETOKEN_TEST_AXIOS points to it (pytest sets it when Debian's node-axios is installed),
// else a small stand-in that follows axios's interceptor contract.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";

import { attachAxios } from "../../django_doubletoken/static/django_doubletoken/doubletoken-axios.js";
import { memoryStorage } from "../../django_doubletoken/static/django_doubletoken/doubletoken.js";
import {
  BASE, ME_URL, expireStoredToken, login, newClient, serverCounts, sleep, untilExpired,
} from "./helpers.mjs";

// (Debian's axios resolves its own dependencies through require, so load its CommonJS build.)
const axios = process.env.DOUBLETOKEN_TEST_AXIOS
  ? createRequire(import.meta.url)(process.env.DOUBLETOKEN_TEST_AXIOS)
  : standInAxios();
console.log(`axios adapter tested with ${process.env.DOUBLETOKEN_TEST_AXIOS ? "the real axios" : "the stand-in"}`);

/** What the adapter relies on: interceptors (use/eject), request(config), errors with
 *  config and response for non-2xx statuses, lower-case response header names. */
function standInAxios() {
  const chain = () => {
    const handlers = [];
    return {
      handlers,
      use: (fulfilled, rejected) => handlers.push({ fulfilled, rejected }) - 1,
      eject: (id) => { handlers[id] = null; },
    };
  };
  async function send(config) {
    const res = await fetch(config.url, {
      method: (config.method ?? "get").toUpperCase(),
      headers: config.headers,
      body: config.data === undefined ? undefined : JSON.stringify(config.data),
    });
    const headers = Object.fromEntries([...res.headers].map(([k, v]) => [k.toLowerCase(), v]));
    const text = await res.text();
    let data = text;
    try { data = JSON.parse(text); } catch { /* not JSON */ }
    const response = { status: res.status, data, headers, config };
    if (res.status >= 200 && res.status < 300) return response;
    throw Object.assign(new Error(`Request failed with status code ${res.status}`),
                        { config, response });
  }
  function create() {
    const interceptors = { request: chain(), response: chain() };
    async function request(config) {
      let current = { headers: {}, ...config };
      for (const handler of interceptors.request.handlers) {
        if (handler) current = await handler.fulfilled(current);
      }
      let result = send(current);
      for (const handler of interceptors.response.handlers) {
        if (handler) result = result.then(handler.fulfilled, handler.rejected);
      }
      return result;
    }
    return { interceptors, request, get: (url) => request({ url }) };
  }
  return { create };
}

function api(auth) {
  const instance = axios.create();
  attachAxios(instance, auth);
  return instance;
}

test("axios: 20 parallel calls after expiry, one refresh, all succeed", async () => {
  const storage = memoryStorage();
  const auth = newClient({ storage });
  const pair = await login(auth, "node test", "roomy");
  await expireStoredToken(storage);

  const client = api(auth);
  const responses = await Promise.all(Array.from({ length: 20 }, () => client.get(ME_URL)));

  assert.deepEqual(responses.map((r) => r.status), Array(20).fill(200));
  assert.equal((await serverCounts(pair.session_id)).refreshes, 1);
});

test("axios: NEW_HTTP_AUTHORIZATION is picked up", async () => {
  const auth = newClient();
  await login(auth);
  await sleep(auth.expiresIn() - 1300); // inside the server's 2 s sliding threshold
  const response = await api(auth).get(ME_URL);
  const header = response.headers["new_http_authorization"];
  assert.ok(header, "the response carried a new token");
  assert.equal(auth.accessToken(), header.replace("Bearer ", ""));
});

test("axios: a refused refresh rejects with the 401 and logs out once", async () => {
  const reasons = [];
  const auth = newClient({ onLogout: (reason) => reasons.push(reason) });
  const pair = await login(auth);
  const other = newClient();
  await login(other);
  await other.revokeSession(pair.session_id);
  await untilExpired(auth);

  const client = api(auth);
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => client.get(ME_URL)));

  assert.deepEqual(results.map((r) => r.status), Array(5).fill("rejected"));
  assert.deepEqual(results.map((r) => r.reason.response.status), Array(5).fill(401));
  assert.deepEqual(reasons, ["session_revoked"]);
  assert.equal((await serverCounts(pair.session_id)).refreshes, 1);
});

test("axios: no loop when the server keeps answering 401", async () => {
  const auth = newClient();
  const pair = await login(auth);
  await assert.rejects(api(auth).get(`${BASE}/__test__/always-expired/`),
                       (error) => error.response.status === 401);
  assert.deepEqual(await serverCounts(pair.session_id),
                   { refreshes: 1, rotations: 1, expired_hits: 2 });
});
