// The classic net/rpc example services, shared by the demo, the example server, tests and benchmarks.
import { fileURLToPath } from "node:url";
import { RpcError, Code, type CallContext } from "../index.js";

export interface GetUserReq {
  id: string;
}

export interface GetUserResp {
  Id: string;
  Name: string;
  Phone: string;
}

const users: ReadonlyMap<string, GetUserResp> = new Map([
  ["1", { Id: "1", Name: "bala", Phone: "13100001111" }],
  ["2", { Id: "2", Name: "小王", Phone: "13200001111" }],
]);

export class UserServer {
  GetUser(req: GetUserReq): GetUserResp {
    const user = users.get(String(req?.id));
    // NOT_FOUND travels as a code to netrpc peers; Go peers see only the text.
    if (!user) throw new RpcError(Code.NOT_FOUND, "user not found");
    return user;
  }
}

/** examples/user/user.proto, the classic user service. */
export const USER_PROTO = fileURLToPath(new URL("./user/user.proto", import.meta.url));

/** user.User from USER_PROTO on a plain class: the same users, with the .proto's lower-case fields. */
export class User {
  GetUser(req: { id: string }): { id: string; name: string; phone: string } {
    const user = users.get(String(req?.id));
    if (!user) throw new RpcError(Code.NOT_FOUND, "user not found");
    return { id: user.Id, name: user.Name, phone: user.Phone };
  }
}

export interface Args {
  A: number;
  B: number;
}

export interface Quotient {
  Quo: number;
  Rem: number;
}

export class Arith {
  Multiply(args: Args): number {
    return args.A * args.B;
  }

  Divide(args: Args): Quotient {
    if (args.B === 0) throw new Error("divide by zero");
    return { Quo: Math.trunc(args.A / args.B), Rem: args.A % args.B };
  }
}

/** Longest sleep Slow.Sleep accepts, so a caller cannot park a handler for ever. */
export const MAX_SLEEP_MS = 10_000;

export class Slow {
  Sleep(ms: number, ctx: CallContext): Promise<number> {
    if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0 || ms > MAX_SLEEP_MS) {
      throw new RpcError(Code.INVALID_ARGUMENT, `rpc: Slow.Sleep takes 0..${MAX_SLEEP_MS} ms, got ${String(ms)}`);
    }
    return new Promise((resolve, reject) => {
      const signal = ctx.signal;
      const onAbort = () => {
        clearTimeout(timer);
        reject(RpcError.from(signal.reason));
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve(ms);
      }, ms);
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/** Most numbers Counter.Count streams per call. */
export const MAX_COUNT = 1000;

/** Streaming over gRPC: a server stream (an async generator) and a bidi stream. */
export class Counter {
  /** 0, 1, ..., n-1, one message each. */
  async *Count(n: number, ctx: CallContext): AsyncGenerator<number> {
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > MAX_COUNT) {
      throw new RpcError(Code.INVALID_ARGUMENT, `rpc: Counter.Count takes 0..${MAX_COUNT}, got ${String(n)}`);
    }
    for (let i = 0; i < n && !ctx.aborted; i++) yield i;
  }

  /** Adds up the numbers as they arrive and answers each with the running total (registered as bidi). */
  async *Sum(numbers: AsyncIterable<number>): AsyncGenerator<number> {
    let total = 0;
    for await (const n of numbers) {
      if (typeof n !== "number") throw new RpcError(Code.INVALID_ARGUMENT, "rpc: Counter.Sum takes numbers");
      total += n;
      yield total;
    }
  }
}

/** How Counter is registered: Sum's kind cannot be seen from its code. */
export const COUNTER_STREAMS = { streams: { Sum: "bidi" } } as const;
