// Step-up (RFC 9470) in the client: a request refused with 401 insufficient_user_authentication
// calls onStepUp once, however many requests (and tabs) hit the guard meanwhile; the app
// re-authenticates the session there (client.reauthenticate), and every refused request is
// replayed once. The guard is the app's own (RecentAuthentication, __test__/guarded/); the
// token starts "an hour after login" (ageStoredToken) so that it refuses at once. The "roomy"
// profile's 2-minute tokens neither slide nor expire meanwhile.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";

import { attachAxios } from "../../django_doubletoken/static/django_doubletoken/doubletoken-axios.js";

import { LoginError, memoryStorage } from "../../django_doubletoken/static/django_doubletoken/doubletoken.js";
import {
  BASE, ME_URL, PASSWORD, ageStoredToken, login, newClient, processLock, recordEvents,
  sharedStorage, sleep,
} from "./helpers.mjs";

const GUARDED = `${BASE}/__test__/guarded/`;
const OTHER_USER = process.env.DOUBLETOKEN_TEST_OTHER_USER;

async function guardHits(sessionId) {
  return (await (await fetch(`${BASE}/__test__/guard-hits/${sessionId}/`)).json()).hits;
}

function stepUpClient(options = {}) {
  const prompts = [];
  const storage = options.storage ?? memoryStorage();
  const client = newClient({
    storage,
    onStepUp: async (challenge) => {
      prompts.push(challenge);
      await sleep(100); // a person typing: every other request is refused meanwhile
      await client.reauthenticate(PASSWORD);
    },
    ...options,
  });
  return { client, prompts, storage };
}

test("step-up: ten parallel calls hit the guard, one prompt, all ten go through", async () => {
  const { client, prompts, storage } = stepUpClient();
  const events = recordEvents(client);
  const pair = await login(client, "node step-up", "roomy");
  await ageStoredToken(storage);

  const responses = await Promise.all(Array.from({ length: 10 }, () => client.fetch(GUARDED)));

  assert.deepEqual(responses.map((r) => r.status), Array(10).fill(200));
  assert.deepEqual(prompts, [{ maxAge: 300, acrValues: null }]);
  assert.equal(await guardHits(pair.session_id), 20); // each refused once, replayed once
  assert.equal(client.sessionId(), pair.session_id); // the same session, re-authenticated
  assert.deepEqual(events.filter((e) => e.type === "logout"), []);
  // Fresh now: no prompt, one hit.
  assert.equal((await client.fetch(GUARDED)).status, 200);
  assert.equal(prompts.length, 1);
  assert.equal(await guardHits(pair.session_id), 21);
});

test("step-up: a second tab waits for the first one's re-authentication, no second prompt", async () => {
  const storage = sharedStorage();
  const lock = processLock();
  const name = `stepup-tabs-${Date.now()}`;
  const first = stepUpClient({ storage, lock, name });
  const second = stepUpClient({ storage, lock, name });
  const pair = await login(first.client, "node step-up tabs", "roomy");
  await ageStoredToken(storage);

  const responses = await Promise.all([
    ...Array.from({ length: 5 }, () => first.client.fetch(GUARDED)),
    ...Array.from({ length: 5 }, () => second.client.fetch(GUARDED)),
  ]);

  assert.deepEqual(responses.map((r) => r.status), Array(10).fill(200));
  assert.equal(first.prompts.length + second.prompts.length, 1);
  assert.equal(await guardHits(pair.session_id), 20);
});

test("step-up: cancelled, the refusal is returned and the session kept; no onStepUp, no prompt", async () => {
  let prompts = 0;
  const storage = memoryStorage();
  const client = newClient({
    storage,
    onStepUp: async () => {
      prompts++;
      throw new Error("cancelled by the user");
    },
  });
  const pair = await login(client, "node step-up cancel", "roomy");
  await ageStoredToken(storage);
  const aged = client.accessToken();

  const responses = await Promise.all(Array.from({ length: 3 }, () => client.fetch(GUARDED)));

  assert.deepEqual(responses.map((r) => r.status), Array(3).fill(401));
  const body = await responses[0].json();
  assert.equal(body.code, "insufficient_user_authentication");
  assert.equal(body.max_age, 300);
  assert.equal(prompts, 1);
  assert.equal(await guardHits(pair.session_id), 3); // nothing replayed
  assert.equal(client.accessToken(), aged);
  assert.equal((await client.fetch(ME_URL)).status, 200);
});

test("reauthenticate: a wrong password rejects with LoginError and keeps the tokens", async () => {
  const { client } = stepUpClient();
  const pair = await login(client, "node reauthenticate wrong");
  await assert.rejects(client.reauthenticate("not the password"),
                       (error) => error instanceof LoginError && error.status === 401 &&
                                  error.code === "invalid_credentials");
  assert.equal(client.accessToken(), pair.access);
  const renewed = await client.reauthenticate(PASSWORD);
  assert.equal(renewed.session_id, pair.session_id);
  assert.equal(client.accessToken(), renewed.access);
  assert.notEqual(renewed.access, pair.access);
});

test("logoutOthers: the other devices are signed out, this one stays", async () => {
  assert.ok(OTHER_USER);
  const credentials = (device) => ({ username: OTHER_USER, password: PASSWORD, device });
  const here = newClient();
  const there = newClient();
  const reasons = [];
  there.addEventListener("logout", (event) => reasons.push(event.detail.reason));
  await here.login(credentials("here"));
  await there.login(credentials("there"));

  assert.equal(await here.logoutOthers(), true);

  assert.equal((await there.fetch(ME_URL)).status, 401);
  assert.deepEqual(reasons, ["session_revoked"]);
  assert.equal((await here.fetch(ME_URL)).status, 200);
  assert.deepEqual((await here.sessions()).map((s) => s.device), ["here"]);
});

test("step-up through the axios adapter: one prompt, every call replayed once", {
  skip: !process.env.DOUBLETOKEN_TEST_AXIOS && "the real axios is not installed",
}, async () => {
  const axios = createRequire(import.meta.url)(process.env.DOUBLETOKEN_TEST_AXIOS);
  const { client, prompts, storage } = stepUpClient();
  const pair = await login(client, "node step-up axios", "roomy");
  await ageStoredToken(storage);
  const api = axios.create();
  attachAxios(api, client);

  const responses = await Promise.all(Array.from({ length: 5 }, () => api.get(GUARDED)));

  assert.deepEqual(responses.map((r) => r.status), Array(5).fill(200));
  assert.equal(prompts.length, 1);
  assert.equal(await guardHits(pair.session_id), 10);
});
