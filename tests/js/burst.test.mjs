// An expired access token and many requests: one refresh reaches the server, in one client
// and across clients sharing storage (tabs), and a client that slept through rotations
// still presents the newest refresh token.
import assert from "node:assert/strict";
import { test } from "node:test";

import { memoryStorage } from "../../django_doubletoken/static/django_doubletoken/doubletoken.js";
import {
  ME_URL, USERNAME, expireStoredToken, login, meStatus, newClient, processLock, recordEvents,
  serverCounts, sharedStorage, sleep,
} from "./helpers.mjs";

test("20 parallel calls with an expired token: one refresh, all 20 succeed", async () => {
  const storage = memoryStorage();
  const auth = newClient({ storage });
  const events = recordEvents(auth);
  const pair = await login(auth, "node test", "roomy");
  await expireStoredToken(storage);

  const responses = await Promise.all(Array.from({ length: 20 }, () => auth.fetch(ME_URL)));

  assert.deepEqual(responses.map((r) => r.status), Array(20).fill(200));
  const bodies = await Promise.all(responses.map((r) => r.json()));
  assert.ok(bodies.every((body) => body.username === USERNAME));
  assert.deepEqual(await serverCounts(pair.session_id),
                   { refreshes: 1, rotations: 1, expired_hits: 0 });
  assert.deepEqual(events.filter((e) => e.type === "refresh").map((e) => e.reason),
                   ["token_expired"]);
  assert.notEqual(auth.accessToken(), pair.access);
  assert.ok(auth.expiresIn() > 1000, "the new token's expiry is stored");
});

test("two clients sharing storage (two tabs) after expiry: one refresh for both", async () => {
  const storage = sharedStorage();
  const lock = processLock();
  const name = `tabs-${Date.now()}`;
  const tab1 = newClient({ storage, lock, name });
  const tab2 = newClient({ storage, lock, name });
  const heard = [recordEvents(tab1), recordEvents(tab2)];
  const pair = await login(tab1, "node test", "roomy");
  await expireStoredToken(storage);

  const calls = [tab1, tab2].flatMap((tab) => Array.from({ length: 10 }, () => tab.fetch(ME_URL)));
  const statuses = (await Promise.all(calls)).map((r) => r.status);

  assert.deepEqual(statuses, Array(20).fill(200));
  assert.deepEqual(await serverCounts(pair.session_id),
                   { refreshes: 1, rotations: 1, expired_hits: 0 });
  assert.ok(tab1.isAuthenticated() && tab2.isAuthenticated());
  // Whichever tab refreshed, the other hears of the new pair over the BroadcastChannel.
  const told = () => heard.some((events) => events.some((e) => e.type === "tokens"));
  for (let waited = 0; !told() && waited < 2000; waited += 50) await sleep(50);
  assert.ok(told(), "the other tab was told");
});

test("a tab that slept through rotations refreshes with the newest refresh token", async () => {
  const storage = sharedStorage();
  const lock = processLock();
  const name = `sleepy-${Date.now()}`;
  const busy = newClient({ storage, lock, name });
  const sleepy = newClient({ storage, lock, name });
  const pair = await login(busy);
  const sleepyToken = sleepy.accessToken();
  for (let i = 0; i < 3; i++) {
    // As the 401 token_expired of a request would: forces a rotation now.
    assert.equal(await busy.recover(busy.accessToken(), "token_expired"), true);
  }
  await sleep(2200); // past the 2 s grace window of every rotation above

  // The sleepy tab's own request failed with the token it had when it fell asleep: that
  // token is no longer the stored one, so it replays without refreshing at all...
  assert.equal(await sleepy.recover(sleepyToken, "token_expired"), true);
  // ...and when it must refresh, it reads the refresh token stored by the busy tab.
  assert.equal(await sleepy.recover(sleepy.accessToken(), "token_expired"), true);

  assert.deepEqual(await serverCounts(pair.session_id),
                   { refreshes: 4, rotations: 4, expired_hits: 0 });
  assert.equal(await meStatus(sleepy), 200);
  assert.equal(await meStatus(busy), 200);
});
