/**
 * The browser client the server serves: src/server/client_files.ts is what
 * `deno task build:client` builds today, and `GET /client.js` /
 * `GET /client.global.js` answer with an ETag, `304` on revalidation,
 * caching by version, `HEAD`, `405` for other methods, and the configured
 * CORS. (Through nginx and in Chromium: tests/script_tag_test.ts.)
 */
import assert from "node:assert/strict";
import { CLIENT_FILES_PATH, renderClientFiles } from "../deploy/build_client.ts";
import { CLIENT_FILES } from "../src/server/client_files.ts";
import { createServer, type Server } from "../src/server/app.ts";
import { MemoryStore } from "../src/store/memory.ts";

const ALLOWED = "https://shop.example";
const PATHS = ["/client.js", "/client.global.js"] as const;

Deno.test("client files: the committed src/server/client_files.ts equals a fresh build", async () => {
  const committed = await Deno.readTextFile(new URL(`../${CLIENT_FILES_PATH}`, import.meta.url));
  assert.ok(
    committed === await renderClientFiles(),
    `${CLIENT_FILES_PATH} is stale: run \`deno task build:client\` and commit it`,
  );
});

Deno.test("client files: /client.js is the client module; /client.global.js sets LongPoll", async () => {
  const module = await import(
    `data:text/javascript,${encodeURIComponent(CLIENT_FILES.files["/client.js"].text)}`
  );
  assert.deepEqual(Object.keys(module).sort(), ["createLongPollClient", "exponentialBackoff"]);
  const scope = {} as { LongPoll?: Record<string, unknown> };
  new Function("globalThis", CLIENT_FILES.files["/client.global.js"].text)(scope);
  assert.deepEqual(Object.keys(scope.LongPoll ?? {}).sort(), Object.keys(module).sort());
  assert.equal(typeof scope.LongPoll?.createLongPollClient, "function");
  // A client from the global polls like the module's.
  const store = new MemoryStore();
  const app = createServer({ store, minWait: 0.05, maxWait: 0.05 });
  await store.publish("7", '{"via":"global"}');
  const received: string[] = [];
  const create = scope.LongPoll!.createLongPollClient as typeof module.createLongPollClient;
  await new Promise<void>((resolve) => {
    const client = create({
      url: "http://x/",
      uid: "7",
      shareTabs: false,
      fetch: (request: Request) => app.fetch(request),
      onMessage: (message: string) => {
        received.push(message);
        client.stop();
      },
      onEnd: () => resolve(),
    });
    client.start();
  });
  assert.deepEqual(received, ['{"via":"global"}']);
});

for (const path of PATHS) {
  Deno.test(`client files: ${path} has a strong ETag; If-None-Match gets 304, by weak comparison too`, async () => {
    const server = _server();
    const first = await server.fetch(new Request(`http://x${path}`));
    assert.equal(first.status, 200);
    assert.equal(await first.text(), CLIENT_FILES.files[path].text);
    const etag = first.headers.get("etag")!;
    assert.match(etag, /^"[0-9a-f]{32}"$/);
    assert.equal(first.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal(first.headers.get("x-content-type-options"), "nosniff");

    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const again = await server.fetch(
        new Request(`http://x${path}`, { headers: { "If-None-Match": ifNoneMatch } }),
      );
      assert.equal(again.status, 304, ifNoneMatch);
      assert.equal(await again.text(), "");
      assert.equal(again.headers.get("etag"), etag);
    }
    for (const ifNoneMatch of ['"other"', "", etag.slice(0, -2) + '"', "W/"]) {
      const changed = await server.fetch(
        new Request(`http://x${path}`, { headers: { "If-None-Match": ifNoneMatch } }),
      );
      assert.equal(changed.status, 200, ifNoneMatch);
      assert.equal(await changed.text(), CLIENT_FILES.files[path].text);
    }
  });
}

Deno.test("client files: ?v=<version> is cached for a year; any other URL revalidates", async () => {
  const server = _server();
  const cacheControl = async (url: string) =>
    (await _drained(server.fetch(new Request(url)))).headers.get("cache-control");
  assert.equal(
    await cacheControl(`http://x/client.global.js?v=${CLIENT_FILES.version}`),
    "public, max-age=31536000, immutable",
  );
  for (const query of ["", "?v=", "?v=0.0.0-old", `?v=${CLIENT_FILES.version}x`, "?version=1"]) {
    assert.equal(await cacheControl(`http://x/client.global.js${query}`), "no-cache", query);
  }
});

Deno.test("client files: HEAD answers the headers only; other methods get 405", async () => {
  const server = _server();
  const get = await _drained(server.fetch(new Request("http://x/client.js")));
  const head = await server.fetch(new Request("http://x/client.js", { method: "HEAD" }));
  assert.equal(head.status, 200);
  assert.equal(head.body, null);
  assert.deepEqual(Object.fromEntries(head.headers), Object.fromEntries(get.headers));

  for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
    const refused = await server.fetch(new Request("http://x/client.js", { method }));
    assert.equal(refused.status, 405, method);
    assert.equal(refused.headers.get("allow"), "GET, HEAD");
    assert.deepEqual(await refused.json(), {
      error: `Cannot serve "/client.js" with method "${method}": use GET or HEAD`,
    });
  }
  // Near misses are no client file.
  for (const path of ["/client", "/client.mjs", "/Client.js", "/client.js/", "/client.global"]) {
    assert.equal((await _drained(server.fetch(new Request(`http://x${path}`)))).status, 404, path);
  }
});

Deno.test("client files: CORS as configured: the allowed origin, Vary: Origin, none without a list", async () => {
  const server = _server();
  const from = (origin: string) =>
    _drained(server.fetch(new Request("http://x/client.js", { headers: { Origin: origin } })));
  const allowed = await from(ALLOWED);
  assert.equal(allowed.headers.get("access-control-allow-origin"), ALLOWED);
  assert.equal(allowed.headers.get("vary"), "Origin");
  const other = await from("https://elsewhere.example");
  assert.equal(other.headers.get("access-control-allow-origin"), null);
  assert.equal(other.headers.get("vary"), "Origin");
  // A 304 carries them too, so a revalidated cross-origin module still loads.
  const revalidated = await _drained(server.fetch(
    new Request("http://x/client.js", {
      headers: { Origin: ALLOWED, "If-None-Match": allowed.headers.get("etag")! },
    }),
  ));
  assert.equal(revalidated.status, 304);
  assert.equal(revalidated.headers.get("access-control-allow-origin"), ALLOWED);

  const any = createServer({ store: new MemoryStore(), corsOrigins: ["*"] });
  const star = await _drained(
    any.fetch(new Request("http://x/client.js", { headers: { Origin: "https://a.example" } })),
  );
  assert.equal(star.headers.get("access-control-allow-origin"), "*");

  const none = createServer({ store: new MemoryStore() });
  const plain = await _drained(
    none.fetch(new Request("http://x/client.js", { headers: { Origin: ALLOWED } })),
  );
  assert.equal(plain.headers.get("access-control-allow-origin"), null);
  assert.equal(plain.headers.get("vary"), null);
});

function _server(): Server {
  return createServer({ store: new MemoryStore(), corsOrigins: [ALLOWED] });
}

/** The response, its body read and dropped. */
async function _drained(response: Response | Promise<Response>): Promise<Response> {
  const answer = await response;
  await answer.body?.cancel();
  return answer;
}
