// Interceptors: one type for client and server, composed so the first is outermost.
import type { CallContext } from "./context.js";
import type { CallKind } from "./registry.js";

/**
 * What travels through interceptors: the method and its params. For client- and bidi-streaming
 * calls params is the (async) iterable of requests; for server- and bidi-streaming calls the
 * result is an AsyncIterable of replies.
 */
export interface RpcRequest {
  readonly method: string;
  params: unknown;
  /** Default "unary". */
  readonly kind?: CallKind;
}

/** The next step of a call: the remaining interceptors, then the handler (server) or the wire (client). */
export type Next = (req: RpcRequest, ctx: CallContext) => Promise<unknown>;

/** `(next) => (req, ctx) => ...`: wrap, inspect or replace the rest of the call. */
export type Interceptor = (next: Next) => Next;

/** compose([a, b], last) is a(b(last)): the first interceptor sees the call first. */
export function compose(interceptors: readonly Interceptor[], last: Next): Next {
  let next = last;
  for (let i = interceptors.length - 1; i >= 0; i--) next = interceptors[i]!(next);
  return next;
}
