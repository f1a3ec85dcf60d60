import { HmacSigner } from "/work/wt-fd/src/signature.ts";
const signer = new HmacSigner({ secret: "fd-limit-secret" });
const conn = await Deno.connect({ hostname: "127.0.0.1", port: 18882 });
const sign = await signer.sign("a");
const head = `GET /?uid=a&sign=${sign} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
console.log(JSON.stringify(head));
await conn.write(new TextEncoder().encode(head));
const b = new Uint8Array(1000); const t = Date.now();
console.log(await conn.read(b), Date.now() - t);
