// The WebSocket example of docs/how-to/websockets.md (the section marked "--8<--"), which
// tests/test_docs_examples.py runs in Chromium against the example project under uvicorn,
// signed in beforehand by the same client.
// --8<-- [start:example]
import { createClient } from "/static/django_doubletoken/doubletoken.js";
const auth = createClient({ storage: "local" });
const socket = auth.openSocket("/ws/notifications/");   // a plain WebSocket
socket.addEventListener("message", (event) => console.log(JSON.parse(event.data)));
// --8<-- [end:example]
