// Backends for the channel suites: real servers on loopback addresses (127.0.0.1, .2, .3, ::1),
// each answering with its own name, that can be killed and restarted on the same port.
import net from "node:net";
import { Server, type CallContext } from "../../index.js";
import type { Teardown } from "./net.js";

/** What one backend has seen. */
export interface Seen {
  /** Calls answered or still running, by the id each carried (params.id). */
  readonly ids: Set<number>;
  /** Calls served since the last reset(). */
  served: number;
}

class Who {
  readonly #name: string;
  readonly #seen: Seen;

  constructor(name: string, seen: Seen) {
    this.#name = name;
    this.#seen = seen;
  }

  /** The backend's name. */
  Name(): string {
    this.#seen.served++;
    return this.#name;
  }

  /** Records `id`, works `ms` (aborted when the call is), then answers with the backend's name. */
  async Work(params: { id: number; ms?: number }, ctx: CallContext): Promise<string> {
    this.#seen.ids.add(params.id);
    this.#seen.served++;
    if (params.ms) {
      // Stops early (timer cleared) when the call is aborted, so a killed server leaves no timer behind.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, params.ms);
        ctx.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
    return this.#name;
  }
}

export interface Backend extends Seen {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** host:port, with brackets for IPv6. */
  readonly hostPort: string;
  readonly running: boolean;
  /** Closes the server now: its connections are cut and calls running on it fail. */
  kill(): Promise<void>;
  /** Listens again on the same host and port. */
  restart(): Promise<void>;
  reset(): void;
}

/** A backend named `name` on host:port (port 0: any free one); closed at teardown. */
export async function backend(t: Teardown, host: string, port = 0, name = host): Promise<Backend> {
  const seen: Seen = { ids: new Set(), served: 0 };
  let server: Server | undefined;
  let bound = port;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const start = async () => {
    const s = new Server();
    s.register(new Who(name, seen), { name: "Who" });
    const listener = await s.listen(`tcp://${hostPart}:${bound}`);
    bound = listener.port!;
    server = s;
  };
  await start();
  t.teardown(() => server?.close());
  const b: Backend = {
    name,
    host,
    get port() {
      return bound;
    },
    get hostPort() {
      return `${hostPart}:${bound}`;
    },
    get running() {
      return server !== undefined;
    },
    ids: seen.ids,
    get served() {
      return seen.served;
    },
    set served(n: number) {
      seen.served = n;
    },
    async kill() {
      const s = server;
      server = undefined;
      await s?.close();
    },
    restart: start,
    reset() {
      seen.served = 0;
      seen.ids.clear();
    },
  };
  return b;
}

/** A port free on every one of `hosts` right now (for DNS answers, which carry no port). */
export async function commonFreePort(hosts: readonly string[]): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const probe = net.createServer();
    const port = await new Promise<number>((resolve, reject) => {
      probe.once("error", reject);
      probe.listen(0, hosts[0], () => resolve((probe.address() as net.AddressInfo).port));
    });
    await new Promise((resolve) => probe.close(resolve));
    const free = await Promise.all(hosts.map((h) => isFree(h, port)));
    if (free.every(Boolean)) return port;
  }
  throw new Error(`no port free on all of ${hosts.join(", ")} after 20 tries`);
}

function isFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** Counts of each name in `names`. */
export function tally(names: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  return counts;
}
