/**
 * Slowloris against a server on this host, and how many legitimate requests
 * it leaves answered:
 *
 * ```sh
 * deno run --allow-net bench/slowloris.ts <port> [slow connections = 600] [seconds = 30]
 * ```
 *
 * Opens the slow connections, each sending a request head one header line
 * every 5 s and never ending it (opened again when the server closes it),
 * waits 10 s, then makes one legitimate request every 100 ms for the given
 * seconds (`GET /healthz` on a fresh connection), and prints how many were
 * answered 200 within 5 s. README.md "Known limits" has the figures, straight
 * at Deno under `ulimit -n 256` and through the shipped nginx.
 *
 * @module
 */
const [portText, slowText = "600", secondsText = "30"] = Deno.args;
const port = Number(portText);
const encoder = new TextEncoder();
const counts = { open: 0, closedByServer: 0 };
let stopping = false;

/** One slow connection, opened again whenever the server closes it. */
async function _slow(index: number): Promise<void> {
  while (!stopping) {
    let conn: Deno.Conn | undefined;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
      counts.open++;
      await conn.write(encoder.encode(`GET /?uid=slow${index} HTTP/1.1\r\nHost: 127.0.0.1\r\n`));
      for (let line = 0; !stopping; line++) {
        await _sleep(5_000);
        await conn.write(encoder.encode(`X-Slow-${line}: 1\r\n`));
      }
    } catch {
      if (conn !== undefined) counts.closedByServer++;
    } finally {
      if (conn !== undefined) counts.open--;
      _close(conn);
    }
    await _sleep(100);
  }
}

/** One legitimate request: true when answered 200 within 5 s. */
async function _legitimate(): Promise<boolean> {
  const signal = AbortSignal.timeout(5_000);
  let conn: Deno.Conn | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port, signal });
    const opened = conn;
    signal.addEventListener("abort", () => _close(opened));
    await conn.write(
      encoder.encode("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
    );
    return /^HTTP\/1\.1 200 /.test(await new Response(conn.readable).text());
  } catch {
    _close(conn);
    return false;
  }
}

function _close(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch {
    // closed already
  }
}

function _sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

for (let i = 0; i < Number(slowText); i++) {
  _slow(i);
  if (i % 50 === 49) await _sleep(20);
}
await _sleep(10_000);
const slowOpenAtStart = counts.open;
const answers: Promise<boolean>[] = [];
for (const end = Date.now() + Number(secondsText) * 1000; Date.now() < end;) {
  answers.push(_legitimate());
  await _sleep(100);
}
const answered = (await Promise.all(answers)).filter(Boolean).length;
stopping = true;
console.log(JSON.stringify({
  legitimate: answers.length,
  answered,
  ratio: Number((answered / answers.length).toFixed(3)),
  slowOpenAtStart,
  slowClosedByServer: counts.closedByServer,
}));
Deno.exit(0);
