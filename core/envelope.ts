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
  /** The requests follow as "message" envelopes, then an "end" (client- and bidi-streaming calls). */
  readonly stream?: boolean | undefined;
}

/** One message of a streaming call: a request (client to server) or a reply (server to client). */
export interface MessageEnvelope {
  readonly kind: "message";
  readonly id: CallId;
  readonly payload: unknown;
  /** The payload did not decode: the call fails with this, the connection goes on. */
  readonly error?: WireError | undefined;
}

/** The client has sent its last request of call `id` (half-close). */
export interface EndEnvelope {
  readonly kind: "end";
  readonly id: CallId;
}

/** The receiver of call `id`'s messages has taken `credit` more: the sender may send that many more. */
export interface CreditEnvelope {
  readonly kind: "credit";
  readonly id: CallId;
  readonly credit: number;
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

/** Keepalive: the client asks whether the connection is alive (ping); the server answers at once (pong). */
export interface PingEnvelope {
  readonly kind: "ping" | "pong";
  /** The ping's own sequence number, echoed in the pong (not a call id). */
  readonly id: number;
}

export type ServerInbound = RequestEnvelope | CancelEnvelope | InvalidEnvelope | MessageEnvelope | EndEnvelope | CreditEnvelope | PingEnvelope;

export type ClientInbound = ResponseEnvelope | MessageEnvelope | CreditEnvelope | PingEnvelope;

/**
 * Messages of one direction a stream may have in flight before the receiver grants more: the
 * sender starts with this much credit per call, and the receiver returns credit as its reader
 * takes messages, so a fast sender can never fill a slow reader's memory.
 */
export const STREAM_WINDOW = 16;
