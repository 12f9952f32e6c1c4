// Reconnect backoff as gRPC's connection-backoff.md gives it: the first attempt's deadline is
// INITIAL_BACKOFF after it starts; each later one multiplies the backoff (up to MAX_BACKOFF) and
// spreads it by ±JITTER. A successful connection resets the schedule.

export interface BackoffOptions {
  /** Milliseconds from the first attempt's start to the second's; default 1000. */
  initial?: number;
  /** Growth per failed attempt; default 1.6. */
  multiplier?: number;
  /** Random spread, as a fraction of the backoff either way; default 0.2. */
  jitter?: number;
  /** The backoff stops growing here, in ms; default 120 000. */
  max?: number;
}

export const DEFAULT_BACKOFF = Object.freeze({ initial: 1000, multiplier: 1.6, jitter: 0.2, max: 120_000 });

/** Checks backoff options once, at dial, and fills in the defaults. */
export function backoffOptions(options: BackoffOptions = {}): Required<BackoffOptions> {
  const { initial = DEFAULT_BACKOFF.initial, multiplier = DEFAULT_BACKOFF.multiplier, jitter = DEFAULT_BACKOFF.jitter, max = DEFAULT_BACKOFF.max } = options;
  const check = (name: string, value: number, ok: boolean, range: string) => {
    if (typeof value !== "number" || !Number.isFinite(value) || !ok) throw new RangeError(`rpc: option backoff.${name} must be ${range}, got ${String(value)}`);
  };
  check("initial", initial, initial >= 0 && initial <= 2 ** 31 - 1, "a number of ms from 0 to 2147483647");
  check("max", max, max >= initial && max <= 2 ** 31 - 1, `a number of ms from backoff.initial (${initial}) to 2147483647`);
  check("multiplier", multiplier, multiplier >= 1, "a number of at least 1");
  check("jitter", jitter, jitter >= 0 && jitter <= 1, "a fraction from 0 to 1");
  return { initial, multiplier, jitter, max };
}

/**
 * One connection's schedule. `next()` is called as each attempt starts and gives how long after
 * that start the following attempt may begin. `random` returns [0, 1) (Math.random by default),
 * injectable so tests can pin the jitter.
 */
export class Backoff {
  readonly #options: Required<BackoffOptions>;
  readonly #random: () => number;
  #backoff: number | undefined;

  constructor(options: BackoffOptions = {}, random: () => number = Math.random) {
    this.#options = backoffOptions(options);
    this.#random = random;
  }

  next(): number {
    const { initial, multiplier, jitter, max } = this.#options;
    if (this.#backoff === undefined) {
      // The first deadline is INITIAL_BACKOFF exactly: connection-backoff.md jitters only the later ones.
      this.#backoff = initial;
      return initial;
    }
    this.#backoff = Math.min(this.#backoff * multiplier, max);
    const spread = jitter * this.#backoff;
    return Math.max(0, Math.round(this.#backoff + (this.#random() * 2 - 1) * spread));
  }

  /** After a successful connection: the next attempt starts the schedule again. */
  reset(): void {
    this.#backoff = undefined;
  }
}
