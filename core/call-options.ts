// Options of one call and of a client, and their checks.
import type { Peer } from "./context.js";
import type { Codec } from "./codec.js";
import type { Interceptor } from "./interceptor.js";
import type { Metadata } from "./metadata.js";
import { DEFAULT_MAX_MESSAGE_SIZE, MAX_MESSAGE_LIMIT, durationOption, intOption } from "./options.js";

export interface CallOptions {
  /** Aborting rejects the call at once with CANCELLED and aborts the server handler's signal. */
  signal?: AbortSignal;
  /** Milliseconds before the call fails with DEADLINE_EXCEEDED; sent to the server as its deadline. */
  timeout?: number;
  /** Sent with the call; keys [0-9a-z_.-]+, values strings (Uint8Array under keys ending in -bin), or arrays of them. */
  metadata?: Metadata;
  /** gRPC: called with the server's response headers when they arrive. */
  onHeader?: (metadata: Metadata) => void;
  /** gRPC: called with the server's trailers (also for an error status) when the call ends. */
  onTrailer?: (metadata: Metadata) => void;
  /** gRPC: gzip the request messages (the server must accept gzip; every gRPC server does). */
  compress?: boolean;
  /**
   * While the client has no ready connection, wait for one (up to the deadline) instead of failing
   * at once with UNAVAILABLE; default the client's `waitForReady` option (false).
   */
  waitForReady?: boolean;
}

export interface ClientOptions {
  /** Default JSON. */
  codec?: Codec;
  /** Largest reply accepted, in bytes; default 4 MiB. A larger one ends the connection. */
  maxMessageSize?: number;
  /** Run around every call, the first outermost. */
  interceptors?: Interceptor[];
  /** Default timeout for calls that set none, in ms; default none. */
  timeout?: number;
  /** Who the client is connected to (set by dial). */
  peer?: Peer;
}

/** Validates client options before anything connects; returns the receive limit. */
export function checkClientOptions(options: ClientOptions): number {
  durationOption("option timeout", options.timeout);
  return intOption("maxMessageSize", options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE, 1, MAX_MESSAGE_LIMIT);
}
