// What a Client needs from a connection, whatever carries it: a byte stream or HTTP/2.
import type { RpcError } from "./errors.js";
import type { CallContext } from "./context.js";
import type { RpcRequest } from "./interceptor.js";

export interface ClientConnection {
  /** Settles (never rejects) with why the connection ended. */
  readonly closed: Promise<RpcError>;
  /** Calls waiting for replies. */
  readonly pending: number;
  /**
   * Runs one call of `req.kind` (default unary). Server- and bidi-streaming calls resolve with
   * an AsyncIterable of replies; the others with the reply. Rejects with an RpcError.
   */
  invoke(req: RpcRequest, ctx: CallContext): Promise<unknown>;
  /** Ends the connection; pending calls fail with CANCELLED. Idempotent. */
  close(): void;
}
