// The axios example of docs/how-to/js-client.md (the section marked "--8<--"), which
// tests/test_docs_examples.py runs in Chromium against the live server with the real axios.
// --8<-- [start:example]
import axios from "axios";
import { createClient } from "/static/django_doubletoken/doubletoken.js";
import { attachAxios } from "/static/django_doubletoken/doubletoken-axios.js";

const auth = createClient({ storage: "local", onLogout: () => location.assign("/login/") });
const api = axios.create({ baseURL: "/api/" });
const detach = attachAxios(api, auth);   // detach() removes the interceptors

await auth.login({ username: "alice", password: "s3cret" });
const { data } = await api.get("me/");
// --8<-- [end:example]
document.body.dataset.result = JSON.stringify({ username: data.username, detach: typeof detach });
