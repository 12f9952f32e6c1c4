// Limits and their defaults, validated once when a server or client is built.

/** gRPC's default receive limit: 4 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024;
/** In-flight calls one connection may hold on a server before new ones are refused. */
export const DEFAULT_MAX_CONCURRENT_CALLS = 4096;
/** Time a connection that has started its preface gets to finish it. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
/** gRPC's minimum connect timeout (connection-backoff.md). */
export const DEFAULT_CONNECT_TIMEOUT = 20_000;

/** Returns value (or the default) when it is an integer in [min, max]; throws a RangeError naming it. */
export function intOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`rpc: option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** The longest delay setTimeout honours (Node fires longer ones after 1 ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A setTimeout delay for `ms`: longer waits are cut to MAX_TIMER_MS (about 24.8 days). */
export function timerDelay(ms: number): number {
  return ms > MAX_TIMER_MS ? MAX_TIMER_MS : ms;
}

/** Checks a caller-supplied duration in ms: finite, not negative, within setTimeout's range. */
export function durationOption(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new RangeError(`rpc: ${name} must be a number of ms from 0 to ${MAX_TIMER_MS}, got ${String(value)}`);
  }
  return value;
}

/** Limits beyond 2 GiB make no sense for a single message held in memory. */
export const MAX_MESSAGE_LIMIT = 2 ** 31 - 1;
