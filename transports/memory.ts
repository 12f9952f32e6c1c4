// An in-process transport for unit tests: memory://name. listen() registers the name in this
// module; dial() makes a connected pair of Duplex streams and hands one end to the listener.
// No socket, no port, no file: what crosses is the codec's framed bytes, exactly as on tcp.
import { Duplex } from "node:stream";
import { Code } from "../core/codes.js";
import { RpcError } from "../core/errors.js";
import type { Connection, Listener, StreamTransport, TransportDialOptions } from "../core/transport.js";

/** A memory:// listener; `connections` are the accepted ends still open (a test can cut them). */
export interface MemoryListener extends Listener {
  readonly connections: ReadonlySet<Duplex>;
}

interface Bound {
  onConnection(conn: Connection): void;
  connections: Set<Duplex>;
}

/** Names listened on in this process. */
const bound = new Map<string, Bound>();

function epipe(): NodeJS.ErrnoException {
  return Object.assign(new Error("write EPIPE: the other end of the memory stream is closed"), { code: "EPIPE" });
}

/**
 * One end of a pair. Bytes written here are read at the other end; a full reader holds the
 * writer's callback (backpressure, as a socket's buffers do). Ending one end ends the other's
 * readable side; destroying it does too, and later writes from the other end fail with EPIPE.
 */
class MemoryStream extends Duplex {
  peer!: MemoryStream;
  /** Our write callback, held until the peer reads again. */
  held: ((err?: Error | null) => void) | undefined;
  /** We have ended the peer's readable side. */
  endedPeer = false;

  constructor() {
    // As net.connect's sockets: a peer's end ends our writable side too, unless the user opts in.
    super({ allowHalfOpen: false });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    const peer = this.peer;
    if (peer.destroyed) return callback(epipe());
    // A copy: writers may reuse their buffer once the callback has run, as a socket allows.
    if (peer.push(Buffer.from(chunk))) callback();
    else this.held = callback;
  }

  override _read(): void {
    const held = this.peer.held;
    this.peer.held = undefined;
    held?.();
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#endPeer();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.held = undefined;
    this.#endPeer();
    // Bytes the peer was waiting to hand us will never be read: its write fails, as after a reset.
    const held = this.peer.held;
    this.peer.held = undefined;
    held?.(epipe());
    callback(err);
  }

  #endPeer(): void {
    if (this.endedPeer) return;
    this.endedPeer = true;
    if (!this.peer.destroyed) this.peer.push(null);
  }
}

/** Two Duplex streams wired back to back: what one writes, the other reads. */
export function duplexPair(): [Duplex, Duplex] {
  const a = new MemoryStream();
  const b = new MemoryStream();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** The name in memory://name (or memory:name); a trailing slash is not part of it. */
function nameOf(url: URL): string {
  const name = decodeURIComponent(`${url.host}${url.pathname}`).replace(/\/$/, "");
  if (!name) throw new TypeError(`rpc: ${url.href} names nothing to listen on or dial (hint: memory://my-server)`);
  return name;
}

function dial(url: URL, options: TransportDialOptions): Promise<Connection> {
  const name = nameOf(url);
  if (options.signal?.aborted) return Promise.reject(new RpcError(Code.CANCELLED, `rpc: dial ${url.href}: aborted`, { cause: options.signal.reason }));
  const listener = bound.get(name);
  if (!listener) return Promise.reject(new RpcError(Code.UNAVAILABLE, `rpc: dial ${url.href}: nothing listens on memory://${name}`));
  const [near, far] = duplexPair();
  listener.connections.add(far);
  far.once("close", () => listener.connections.delete(far));
  try {
    listener.onConnection({ stream: far, peer: { transport: "memory" } });
  } catch (err) {
    near.destroy();
    far.destroy();
    return Promise.reject(new RpcError(Code.UNAVAILABLE, `rpc: dial ${url.href}: the listener failed: ${(err as Error)?.message}`, { cause: err }));
  }
  return Promise.resolve({ stream: near, peer: { transport: "memory", address: name } });
}

function listen(url: URL, onConnection: (conn: Connection) => void): Promise<MemoryListener> {
  const name = nameOf(url);
  if (bound.has(name)) return Promise.reject(new RpcError(Code.UNAVAILABLE, `rpc: listen ${url.href}: memory://${name} is already in use`));
  const entry: Bound = { onConnection, connections: new Set() };
  bound.set(name, entry);
  let closing: Promise<void> | undefined;
  return Promise.resolve({
    url: url.href.replace(/\/$/, ""),
    port: undefined,
    connections: entry.connections,
    close: () =>
      (closing ??= new Promise<void>((done) => {
        if (bound.get(name) === entry) bound.delete(name);
        done();
      })),
  });
}

/** memory://name: both ends in this process. Register it with registerTransport(memory). */
export const memory: StreamTransport = { schemes: ["memory"], dial, listen };
