// What every bench client module provides.
export interface BenchClient {
  /** One UserServer.GetUser({id:"1"}) call; resolves with the reply's result. */
  call(): Promise<unknown>;
  /** Throws unless `result` is the expected user (called once, before measuring). */
  verify(result: unknown): void;
  close(): void | Promise<void>;
}

export type Connect = (port: number) => Promise<BenchClient>;

export function expectEqual(actual: unknown, expected: unknown): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`unexpected reply ${a}, want ${e}`);
}

/** A stream row's client: one connection, one server-streaming call after another. */
export interface StreamClient {
  /** Reads streams back to back, calling `count` once per message, until close(); then resolves. */
  run(count: () => void): Promise<void>;
  close(): void | Promise<void>;
}

export type ConnectStream = (port: number) => Promise<StreamClient>;
