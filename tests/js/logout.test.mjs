// Refresh failures: a refused refresh logs out once and never loops; a transient one keeps
// the tokens; logout reaches the other tabs.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  BASE, ME_URL, login, newClient, recordEvents, serverCounts, sharedStorage, sleep, untilExpired,
} from "./helpers.mjs";
import { RefreshUnavailableError } from "../../django_doubletoken/static/django_doubletoken/doubletoken.js";

test("a refused refresh clears the tokens and calls onLogout once", async () => {
  const reasons = [];
  const auth = newClient({ onLogout: (reason) => reasons.push(reason) });
  const pair = await login(auth, "lost phone");
  const other = newClient();
  await login(other, "laptop");
  assert.equal(await other.revokeSession(pair.session_id), true); // from the other device
  await untilExpired(auth);

  const responses = await Promise.all(Array.from({ length: 20 }, () => auth.fetch(ME_URL)));

  assert.deepEqual(responses.map((r) => r.status), Array(20).fill(401));
  assert.deepEqual(reasons, ["session_revoked"]);
  assert.equal(auth.isAuthenticated(), false);
  assert.equal(auth.accessToken(), null);
  assert.equal((await serverCounts(pair.session_id)).refreshes, 1, "one refresh, no retries");
  assert.equal(other.isAuthenticated(), true);
});

test("a revoked session with a live token logs out without refreshing", async () => {
  const auth = newClient();
  const events = recordEvents(auth);
  const pair = await login(auth);
  const other = newClient();
  await login(other);
  // (Not logoutAll(): the other test files use the same user at the same time.)
  await other.revokeSession(pair.session_id);

  const response = await auth.fetch(ME_URL);

  assert.equal(response.status, 401);
  assert.equal((await response.json()).code, "session_revoked", "the body is still readable");
  assert.deepEqual(events.filter((e) => e.type === "logout").map((e) => e.reason),
                   ["session_revoked"]);
  assert.equal((await serverCounts(pair.session_id)).refreshes, 0);
});

test("logout() revokes the session and logs out the other tabs", async () => {
  const storage = sharedStorage();
  const name = `logout-${Date.now()}`;
  const tab1 = newClient({ storage, name });
  const tab2 = newClient({ storage, name });
  const loggedOut = new Promise((resolve) => {
    tab2.addEventListener("logout", (event) => resolve(event.detail.reason));
  });
  const pair = await login(tab1);

  await tab1.logout();

  // The timeout also keeps node's event loop alive while the message is on its way.
  assert.equal(await Promise.race([loggedOut, sleep(2000).then(() => "no message")]), "other-tab");
  assert.equal(tab2.isAuthenticated(), false);
  const old = await fetch(ME_URL, { headers: { Authorization: `Bearer ${pair.access}` } });
  assert.equal(old.status, 401);
  assert.equal((await old.json()).code, "session_revoked");
});

test("a 503 from the refresh endpoint is transient: tokens kept, no logout", async () => {
  const storage = sharedStorage();
  const healthy = newClient({ storage });
  // Same tokens, but its refresh endpoint answers 503 cache_unavailable.
  const unlucky = newClient({ storage, authURL: `${BASE}/__test__/down/` });
  const events = recordEvents(unlucky);
  const pair = await login(healthy);
  await untilExpired(healthy);

  await assert.rejects(unlucky.fetch(ME_URL), (error) => {
    assert.ok(error instanceof RefreshUnavailableError);
    assert.equal(error.status, 503);
    assert.equal(error.code, "cache_unavailable");
    return true;
  });

  assert.equal(events.length, 0, "no logout");
  assert.equal(unlucky.accessToken(), pair.access);
  assert.equal((await healthy.fetch(ME_URL)).status, 200, "the session goes on");
  assert.equal((await serverCounts(pair.session_id)).refreshes, 1);
});
