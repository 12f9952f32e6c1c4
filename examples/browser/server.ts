// The browser example: one port serves the page, the browser bundle of transports/browser.ts
// (built here by esbuild) and the example services over WebSocket at /rpc.
//   npm run example-browser -- [--listen 127.0.0.1:8080]
// then open http://127.0.0.1:8080/ (?codec=msgpack for msgpack). Prints "LISTENING <url>".
import http from "node:http";
import type net from "node:net";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as esbuild from "esbuild";
import { Server } from "../../index.js";
import { Arith, COUNTER_STREAMS, Counter, Slow, User, UserServer, USER_PROTO } from "../services.js";

const { values } = parseArgs({ options: { listen: { type: "string" } } });
const [host, portText] = (values.listen ?? "127.0.0.1:8080").split(/:(?=\d+$)/);
const port = Number(portText ?? 8080);

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const page = await readFile(here("./index.html"), "utf8");
// The browser entry as one ESM file; platform "browser" makes esbuild refuse any node: import.
const built = await esbuild.build({ entryPoints: [here("../../transports/browser.ts")], bundle: true, format: "esm", platform: "browser", target: "es2022", write: false, logLevel: "warning" });
const bundle = built.outputFiles[0]!.text;

const rpc = new Server();
rpc.register(new UserServer()).register(new Arith()).register(new Slow());
rpc.register(new Counter(), COUNTER_STREAMS);
rpc.register(new User(), { service: "user.User", proto: USER_PROTO });

const web = http.createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  const file = path === "/" || path === "/index.html" ? { type: "text/html; charset=utf-8", body: page } : path === "/netrpc.js" ? { type: "text/javascript; charset=utf-8", body: bundle } : undefined;
  if (!file) {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    return;
  }
  res.writeHead(200, { "content-type": file.type, "cache-control": "no-store" }).end(file.body);
});
// WebSocket upgrades at /rpc go to netrpc; the page and its script are plain requests above.
rpc.attach(web, { path: "/rpc" });

await new Promise<void>((resolve, reject) => {
  web.once("error", reject);
  web.listen(port, host, () => resolve());
});
const bound = web.address() as net.AddressInfo;
process.stdout.write(`LISTENING http://${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}/\n`);

// netrpc first (its connections get a 1001 close frame), then the http server it was attached to.
const stop = () => {
  void rpc.close().then(() => {
    web.closeAllConnections();
    web.close(() => process.exit(0));
  });
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
