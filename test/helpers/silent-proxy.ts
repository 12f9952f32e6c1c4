// A TCP proxy on 127.0.0.1 that can go silent: freeze() stops it forwarding either way without
// closing anything, as a network that drops every packet does. For keepalive tests.
import net from "node:net";
import type { Teardown } from "./net.js";

export interface SilentProxy {
  readonly port: number;
  /** Stops forwarding (both ways, every connection); bytes still arrive and are dropped. */
  freeze(): void;
  /** Settles when the server closes its side of the n-th connection (0 = the first). */
  upstreamClosed(n?: number): Promise<void>;
  /** Connections made so far. */
  readonly connections: number;
}

/** A proxy to 127.0.0.1:`port`, closed at teardown. */
export async function silentProxy(t: Teardown, port: number): Promise<SilentProxy> {
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const closes: Array<Promise<void>> = [];
  const server = net.createServer((down) => {
    const up = net.connect(port, "127.0.0.1");
    for (const s of [down, up]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    closes.push(new Promise((resolve) => up.once("close", () => resolve())));
    down.on("data", (d: Buffer) => void (frozen || up.write(d)));
    up.on("data", (d: Buffer) => void (frozen || down.write(d)));
    // A frozen network carries no FIN either.
    down.on("end", () => void (frozen || up.end()));
    up.on("end", () => void (frozen || down.end()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze: () => void (frozen = true),
    upstreamClosed: (n = 0) => closes[n] ?? Promise.reject(new Error(`no connection ${n} through the proxy`)),
    get connections() {
      return closes.length;
    },
  };
}
