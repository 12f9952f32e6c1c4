// Shared helpers for the core suites: real sockets on 127.0.0.1 (port 0), bounded waits only.
//
// - startServer(): a Server on tcp://127.0.0.1:0 with the example services (and any extras),
//   closed at teardown.
// - LineSocket: a raw client (or the accepted end of a raw server) that writes bytes and reads
//   reply lines, every read bounded by a timeout.
// - rawServer(): a plain net.Server whose accepted connections are LineSockets, to read exactly
//   what our client writes.
import net from "node:net";
import { Server, dial, type Client, type DialOptions, type Listener, type RegisterOptions, type ServerOptions } from "../../index.js";
import { Arith, Slow, UserServer } from "../../examples/services.js";

/** The part of a tap test these helpers need (t.teardown). */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Reject if `p` does not settle within `ms`, so no await can hang. */
export function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Settles `p` (bounded) and returns what it rejected with; throws if it resolved. */
export async function rejection(p: Promise<unknown>, what = "call", ms = 10_000): Promise<any> {
  let value: unknown;
  try {
    value = await bounded(p, ms, what);
  } catch (err) {
    if (err instanceof Error && err.message === `${what}: not settled within ${ms} ms`) throw err;
    return err;
  }
  throw new Error(`${what}: expected a rejection, resolved with ${safeJson(value)}`);
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Polls `pred` every few ms until it is true; throws after `ms`. */
export async function waitFor(pred: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`${what}: not true within ${ms} ms`);
    await sleep(5);
  }
}

/** dial(), with the client closed at teardown. */
export async function connect(t: Teardown, url: string, options?: DialOptions): Promise<Client> {
  const c = await dial(url, options);
  t.teardown(() => c.close());
  return c;
}

export type ServiceEntry = object | readonly [object, RegisterOptions];

export interface StartOptions {
  /** Constructor options for the Server. */
  server?: ServerOptions;
  /** Register UserServer, Arith and Slow (default true). */
  examples?: boolean;
  /** More objects to register, each alone or with its RegisterOptions. */
  services?: readonly ServiceEntry[];
  /** Listen address; default tcp://127.0.0.1:0. */
  address?: string;
}

export interface Started {
  server: Server;
  listener: Listener;
  /** tcp://127.0.0.1:<real port> */
  url: string;
  port: number;
}

/** Starts a Server on 127.0.0.1:0 (example services unless told otherwise); closed at teardown. */
export async function startServer(t: Teardown, options: StartOptions = {}): Promise<Started> {
  const server = new Server(options.server);
  if (options.examples !== false) server.register(new UserServer()).register(new Arith()).register(new Slow());
  for (const entry of options.services ?? []) {
    if (Array.isArray(entry)) server.register(entry[0] as object, entry[1] as RegisterOptions);
    else server.register(entry as object);
  }
  const listener = await server.listen(options.address ?? "tcp://127.0.0.1:0");
  t.teardown(() => server.close());
  return { server, listener, url: listener.url, port: listener.port ?? 0 };
}

/**
 * A raw line-oriented socket. Incoming bytes are split on "\n" into a queue; readLine() takes
 * the next line (without "\n") or fails after a bounded wait or when the peer hangs up first.
 */
export class LineSocket {
  readonly socket: net.Socket;
  /** Settles when the socket has closed; holds the socket error, if there was one. */
  readonly closed: Promise<Error | undefined>;
  /** Every byte received so far. */
  received = 0;
  #buf: Buffer = Buffer.alloc(0);
  #error: Error | undefined;
  #isClosed = false;
  #waiter: (() => void) | undefined;

  constructor(socket: net.Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.#isClosed = true;
        this.#waiter?.();
        resolve(this.#error);
      });
    });
    socket.on("data", (d: Buffer) => {
      this.received += d.length;
      this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d]);
      this.#waiter?.();
    });
    socket.on("error", (e) => {
      this.#error ??= e;
      this.#waiter?.();
    });
  }

  /** Connects to 127.0.0.1:port (or a tcp:// url); destroyed at teardown. */
  static async connect(t: Teardown, target: number | string, ms = 5_000): Promise<LineSocket> {
    const port = typeof target === "number" ? target : Number(new URL(target).port);
    const socket = await bounded(
      new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ host: "127.0.0.1", port });
        s.once("error", reject);
        s.once("connect", () => {
          s.off("error", reject);
          resolve(s);
        });
      }),
      ms,
      `connect 127.0.0.1:${port}`,
    );
    socket.setNoDelay(true);
    const ls = new LineSocket(socket);
    t.teardown(() => ls.destroy());
    return ls;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  get error(): Error | undefined {
    return this.#error;
  }

  /** Bytes received but not yet taken as a line. */
  get pendingText(): string {
    return this.#buf.toString("utf8");
  }

  /** Writes bytes; resolves once handed to the OS, rejects on a socket error. */
  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Next line as text, without its "\n". */
  async readLine(ms = 5_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const nl = this.#buf.indexOf(0x0a);
      if (nl >= 0) {
        const line = this.#buf.subarray(0, nl).toString("utf8");
        this.#buf = this.#buf.subarray(nl + 1);
        return line;
      }
      if (this.#isClosed) {
        throw new Error(`no line: connection closed (${this.#error?.message ?? "cleanly"}); have ${JSON.stringify(this.pendingText)}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line within ${ms} ms; have ${JSON.stringify(this.pendingText)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
  }

  /** Next line, parsed. */
  async readJson(ms = 5_000): Promise<any> {
    return JSON.parse(await this.readLine(ms));
  }

  /** Writes one line (a "\n" is added) and reads one reply line. */
  async exchange(line: string, ms = 5_000): Promise<string> {
    await this.write(line + "\n");
    return this.readLine(ms);
  }

  /** Resolves true once the peer has closed the connection, false if it is still open after `ms`. */
  async waitClosed(ms = 5_000): Promise<boolean> {
    if (this.#isClosed) return true;
    try {
      await bounded(this.closed, ms, "close");
      return true;
    } catch {
      return false;
    }
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface RawServer {
  port: number;
  url: string;
  /** The next accepted connection (bounded wait). */
  accept(ms?: number): Promise<LineSocket>;
}

/** A plain net.Server on 127.0.0.1:0 whose connections are LineSockets; all closed at teardown. */
export async function rawServer(t: Teardown): Promise<RawServer> {
  const accepted: LineSocket[] = [];
  const waiting: Array<(s: LineSocket) => void> = [];
  const all: LineSocket[] = [];
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const ls = new LineSocket(socket);
    all.push(ls);
    const w = waiting.shift();
    if (w) w(ls);
    else accepted.push(ls);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => resolve());
  });
  t.teardown(async () => {
    for (const s of all) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `tcp://127.0.0.1:${port}`,
    accept: (ms = 5_000) => {
      const ready = accepted.shift();
      if (ready) return Promise.resolve(ready);
      return bounded(new Promise<LineSocket>((resolve) => waiting.push(resolve)), ms, "accept");
    },
  };
}

/** A deterministic byte generator (xorshift32), so garbage tests are reproducible. */
export function pseudoRandomBytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
