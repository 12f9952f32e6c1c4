// The messages a stream connection carries: Request<id, method, params>, Response<id, result|error>, Cancel<id>.
import type { Code } from "./codes.js";
import type { TextMetadata } from "./metadata.js";

/** Call ids are numbers from our clients; other clients may use strings, which are echoed back. */
export type CallId = number | string;

export interface RequestEnvelope {
  readonly kind: "request";
  readonly id: CallId;
  readonly method: string;
  readonly params: unknown;
  /** Milliseconds the caller will wait, counted from when it sent the request. */
  readonly timeout?: number | undefined;
  readonly metadata?: TextMetadata | undefined;
}

/** The caller gave up on call `id` (abort or deadline): the handler's signal should fire. */
export interface CancelEnvelope {
  readonly kind: "cancel";
  readonly id: CallId;
}

export interface WireError {
  readonly code: Code;
  readonly message: string;
}

export interface ResponseEnvelope {
  readonly kind: "response";
  /** null: an error about the connection itself (a frame whose id could not be read); it ends the connection. */
  readonly id: CallId | null;
  readonly result?: unknown;
  readonly error?: WireError | undefined;
}

/** A frame that parsed far enough to name its call but no further: answer `id` with `error`. */
export interface InvalidEnvelope {
  readonly kind: "invalid";
  readonly id: CallId;
  readonly error: WireError;
}

export type ServerInbound = RequestEnvelope | CancelEnvelope | InvalidEnvelope;
