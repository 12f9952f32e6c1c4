// Limits and their defaults, validated once when a server or client is built.

/** gRPC's default receive limit: 4 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024;
/** In-flight calls one connection may hold on a server before new ones are refused. */
export const DEFAULT_MAX_CONCURRENT_CALLS = 4096;
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

/** Limits beyond 2 GiB make no sense for a single message held in memory. */
export const MAX_MESSAGE_LIMIT = 2 ** 31 - 1;
