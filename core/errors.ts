// The one error class: a gRPC status code, a message, and whether the peer sent it.
import { Code, codeName, isCode } from "./codes.js";
import type { Metadata } from "./metadata.js";

/** String(value), except it never throws (null-prototype objects, a throwing toString). */
function describe(value: unknown): string {
  try {
    return String(value);
  } catch {
    return `a thrown ${typeof value}`;
  }
}

export interface RpcErrorOptions {
  /** The underlying error, kept for debugging; never sent to the peer. */
  cause?: unknown;
  /** True when the error arrived from the other side of the connection. */
  fromPeer?: boolean;
  /** Metadata that travels with the error (gRPC trailers). */
  metadata?: Metadata;
}

/**
 * Every failure a caller sees is an RpcError. `code` is a gRPC status code; `fromPeer` tells an
 * error the remote handler (or remote library) sent apart from one raised locally, such as a
 * lost connection or a passed deadline.
 */
export class RpcError extends Error {
  readonly code: Code;
  readonly fromPeer: boolean;
  readonly metadata: Metadata | undefined;

  constructor(code: Code, message: string, options: RpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RpcError";
    this.code = code;
    this.fromPeer = options.fromPeer ?? false;
    this.metadata = options.metadata;
  }

  /** The code's name, e.g. "NOT_FOUND". */
  get codeName(): string {
    return codeName(this.code);
  }

  /**
   * Normalises anything thrown into an RpcError: RpcErrors pass through, abort and timeout
   * errors become CANCELLED and DEADLINE_EXCEEDED, objects with a numeric gRPC `code` keep it,
   * anything else gets `code` (UNKNOWN unless given).
   */
  static from(reason: unknown, code: Code = Code.UNKNOWN): RpcError {
    try {
      if (reason instanceof RpcError) return reason;
      return convert(reason, code);
    } catch {
      // A hostile value (throwing getters or toString) still becomes an error, never a crash.
      return new RpcError(code, "rpc: a thrown value that cannot be read", { cause: reason });
    }
  }
}

function convert(reason: unknown, code: Code): RpcError {
  if (reason instanceof Error) {
    if (reason.name === "TimeoutError") return new RpcError(Code.DEADLINE_EXCEEDED, reason.message, { cause: reason });
    if (reason.name === "AbortError") return new RpcError(Code.CANCELLED, reason.message, { cause: reason });
    const own = (reason as { code?: unknown }).code;
    return new RpcError(isCode(own) ? own : code, reason.message, { cause: reason });
  }
  if (typeof reason === "object" && reason !== null) {
    const { code: own, message } = reason as { code?: unknown; message?: unknown };
    if (typeof message === "string") return new RpcError(isCode(own) ? own : code, message, { cause: reason });
    return new RpcError(code, describe(reason), { cause: reason });
  }
  return new RpcError(code, describe(reason), { cause: reason });
}
