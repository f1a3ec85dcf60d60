/**
 * Whether the demo page's form can publish: `open` (the in-memory store on
 * loopback, no token), `token` (`PUBLISH_TOKEN` is set: the form needs it) or
 * `off` (no token and not open: `POST /publish` answers 403).
 */
export type DemoPublish = "open" | "token" | "off";

/**
 * The demo page of `GET /demo`: one uid, a long-poll loop through JSONP
 * (the original service's way, so it shows the protocol old front ends use), and a form
 * that publishes to it, or says why it can't.
 *
 * @example
 * ```ts
 * import { demoPage } from "./demo_page.ts";
 * const response = demoPage("off");
 * console.log(response.headers.get("content-type")); // text/html; charset=utf-8
 * console.log((await response.text()).includes("Publishing from this form is off")); // true
 * ```
 */
export function demoPage(publish: DemoPublish): Response {
  const response = new Response(PAGE.replace("<!--publish-->", PUBLISH_NOTES[publish]));
  response.headers.set("content-type", "text/html; charset=utf-8");
  response.headers.set("cache-control", "no-store");
  response.headers.set("x-content-type-options", "nosniff");
  response.headers.set(
    "content-security-policy",
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'",
  );
  return response;
}

const PUBLISH_NOTES: Record<DemoPublish, string> = {
  open: `<p id="publish-note">Publishing is open here without a token: the in-memory store, on
loopback, for local requests only.</p>`,
  token: `<p id="publish-note">Publishing needs this server's <code>PUBLISH_TOKEN</code>: type it
in the token field.</p>`,
  off: `<p id="publish-note" class="error">Publishing from this form is off: this server has no
<code>PUBLISH_TOKEN</code>, and <code>POST /publish</code> is open without one only on the
in-memory store bound to loopback. Start it with <code>PUBLISH_TOKEN</code> set (and type it in
the token field), or push from Redis: <code>redis-cli LPUSH Q/MSG&lt;uid&gt; '{"hi":1}'</code>
(with your <code>KEY_PREFIX</code>).</p>`,
};

const PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>longpoll demo</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; }
  label, input, button { font: inherit; }
  input { padding: .2rem .4rem; }
  #log { border: 1px solid #ccc; border-radius: 4px; padding: .5rem; min-height: 8rem; }
  #log div { border-bottom: 1px solid #eee; padding: .2rem 0; }
  .stop { color: #888; }
  .error { color: #b00; }
</style>
<h1>longpoll demo</h1>
<p>This page holds a poll for one uid (JSONP, as the original front end did) and shows each
message the moment it is published, from the form below, <code>POST /publish</code>, or a plain
<code>LPUSH Q/MSG&lt;uid&gt;</code> on Redis.</p>
<p><label>uid <input id="uid" value="42"></label>
<label>sign <input id="sign" value="x" size="12"></label>
<button id="listen">Listen</button> <span id="state">idle</span></p>
<form id="publish"><label>message <input id="message" value='{"hi":1}' size="30"></label>
<label>token <input id="token" placeholder="PUBLISH_TOKEN" size="12"></label>
<button>Publish</button> <span id="published"></span></form>
<!--publish-->
<h2>Received</h2>
<div id="log"></div>
<script>
  const $ = (id) => document.getElementById(id);
  let generation = 0;
  function show(text, kind) {
    const line = document.createElement("div");
    line.textContent = new Date().toLocaleTimeString() + "  " + text;
    if (kind) line.className = kind;
    $("log").prepend(line);
  }
  function poll(run) {
    if (run !== generation) return;
    $("state").textContent = "waiting…";
    const script = document.createElement("script");
    const query = new URLSearchParams({ uid: $("uid").value, sign: $("sign").value, jsonCallback: "demo.receive" });
    window.demo = {
      receive(message, meta) {
        script.remove();
        if (meta && meta.stop === true) show("{\\"stop\\":1}: the hold ran out, polling again", "stop");
        else if (message && typeof message.error === "string") return fail(message.error);
        else show(typeof message === "string" ? message : JSON.stringify(message));
        poll(run);
      },
    };
    script.src = "/?" + query;
    script.onerror = () => fail("the poll failed (see the network panel)");
    document.head.append(script);
    function fail(reason) {
      script.remove();
      show(reason, "error");
      $("state").textContent = "retrying in 2 s";
      setTimeout(() => poll(run), 2000);
    }
  }
  $("listen").onclick = () => {
    generation++;
    show("listening to uid " + $("uid").value);
    poll(generation);
  };
  $("publish").onsubmit = async (event) => {
    event.preventDefault();
    const headers = $("token").value ? { Authorization: "Bearer " + $("token").value } : {};
    const response = await fetch("/publish?uid=" + encodeURIComponent($("uid").value), {
      method: "POST",
      headers,
      body: $("message").value,
    });
    const body = await response.json();
    $("published").textContent = response.ok ? "published" : body.error;
  };
</script>
</html>
`;
