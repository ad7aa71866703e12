// The cookie-mode page load of docs/how-to/cookie-mode.md and js-client.md (the section
// marked "--8<--"), which tests/test_docs_examples.py runs in Chromium against the live
// server in cookie mode: first without a refresh cookie, then after a login set one.
// --8<-- [start:example]
import { createClient } from "/static/django_doubletoken/doubletoken.js";

const auth = createClient({ storage: "memory", onLogout: () => location.assign("/login/") });
if (!(await auth.resume())) {        // at page load: an access token from the cookie, if any
  showLoginForm();
}
// --8<-- [end:example]

function showLoginForm() {
  document.body.dataset.loginForm = "shown";
}

window.docsAuth = auth;
document.body.dataset.state = auth.isAuthenticated() ? "resumed" : "signed-out";
