// Keepalive pings on every transport (gRPC's A8 and A9): the client's settings and ping
// loop, and the server's judgement of a client's pings.
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";
import { MAX_TIMER_MS, durationOption } from "./options.js";

/** gRPC's default: a ping unacknowledged for 20 s ends the connection. */
export const DEFAULT_KEEPALIVE_TIMEOUT = 20_000;
/** gRPC's default PERMIT_KEEPALIVE_TIME: a server refuses pings more often than every 5 minutes. */
export const DEFAULT_KEEPALIVE_MIN_TIME = 300_000;
/** gRPC's default: the third ping too soon is one too many. */
export const DEFAULT_MAX_PING_STRIKES = 2;
/** A8: without calls (unless permitted) pings must be as rare as TCP keepalive's, two hours apart. */
export const PING_WITHOUT_CALLS_MIN_TIME = 2 * 60 * 60 * 1000;
/** The GOAWAY debug data of a server refusing a client's pings (A8). */
export const TOO_MANY_PINGS = "too_many_pings";

export interface ClientKeepaliveOptions {
  keepaliveTime?: number | undefined;
  keepaliveTimeout?: number | undefined;
  keepalivePermitWithoutCalls?: boolean | undefined;
  /** The older ws-only option: a ping every interval whether calls run or not, answered within the interval. */
  keepaliveInterval?: number | undefined;
}

/**
 * A client's keepalive, shared by every connection one dial() makes: a server's GOAWAY
 * too_many_pings doubles `time` for the connections made after it (A8).
 */
export class KeepaliveSettings {
  #time: number;
  readonly timeout: number;
  readonly permitWithoutCalls: boolean;

  constructor(time: number, timeout: number, permitWithoutCalls: boolean) {
    this.#time = time;
    this.timeout = timeout;
    this.permitWithoutCalls = permitWithoutCalls;
  }

  /** Milliseconds from a ping's ack to the next ping. */
  get time(): number {
    return this.#time;
  }

  /** The server said too_many_pings: ping half as often on the next connection; returns the new time. */
  slowDown(): number {
    this.#time = Math.min(this.#time * 2, MAX_TIMER_MS);
    return this.#time;
  }
}

/** Checks the options; undefined when keepalive is off (no keepaliveTime, or 0). */
export function keepaliveSettings(options: ClientKeepaliveOptions): KeepaliveSettings | undefined {
  const interval = durationOption("option keepaliveInterval", options.keepaliveInterval);
  const time = durationOption("option keepaliveTime", options.keepaliveTime) ?? interval;
  const timeout = durationOption("option keepaliveTimeout", options.keepaliveTimeout) ?? (options.keepaliveTime === undefined ? interval : undefined) ?? DEFAULT_KEEPALIVE_TIMEOUT;
  const permit = options.keepalivePermitWithoutCalls;
  if (permit !== undefined && typeof permit !== "boolean") throw new TypeError(`rpc: option keepalivePermitWithoutCalls must be a boolean, got ${String(permit)}`);
  if (!time) return undefined;
  return new KeepaliveSettings(time, timeout, permit ?? (options.keepaliveTime === undefined && interval !== undefined));
}

/** What the ping loop needs from its connection. */
export interface Pingable {
  /** Sends a ping; `acked` runs when its ack (or pong) arrives. False when none could be sent. */
  ping(acked: () => void): boolean;
  /** Calls are running: pings without them wait, unless permitted. */
  busy(): boolean;
  /** No ack within the timeout: end the connection with `err`. */
  dead(err: RpcError): void;
}

const now = (): number => performance.now();

function unref(timer: ReturnType<typeof setTimeout>): ReturnType<typeof setTimeout> {
  // The connection keeps the process running, not its keepalive.
  timer.unref?.();
  return timer;
}

/**
 * The client's ping loop (A8): a ping `time` ms after the last ack (never after the last ping
 * sent, which a server with the same minimum would count as too soon), only while calls run
 * unless permitted; an ack still missing `timeout` ms after its ping ends the connection.
 */
export class KeepalivePinger {
  readonly #settings: KeepaliveSettings;
  readonly #conn: Pingable;
  /** Read once: a slowDown() applies to the next connection. */
  readonly #time: number;
  #lastAck = now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #watchdog: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(settings: KeepaliveSettings, conn: Pingable) {
    this.#settings = settings;
    this.#conn = conn;
    this.#time = settings.time;
    this.#arm(this.#time);
  }

  /**
   * A call has started: after a quiet spell longer than `time`, ping now rather than `time`
   * later, so a connection that died meanwhile is found within `timeout` (A8).
   */
  wake(): void {
    if (this.#stopped || this.#watchdog !== undefined) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#arm(Math.max(0, this.#lastAck + this.#time - now()));
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#watchdog);
    this.#timer = this.#watchdog = undefined;
  }

  #arm(delay: number): void {
    this.#timer = unref(setTimeout(this.#tick, delay));
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    if (this.#stopped) return;
    // Idle: look again later (a new call wakes us sooner).
    if (!this.#settings.permitWithoutCalls && !this.#conn.busy()) return this.#arm(this.#time);
    if (!this.#conn.ping(this.#onAck)) return;
    const timeout = this.#settings.timeout;
    this.#watchdog = unref(
      setTimeout(() => {
        this.#watchdog = undefined;
        if (this.#stopped) return;
        this.stop();
        this.#conn.dead(new RpcError(Code.UNAVAILABLE, `rpc: keepalive: no ping ack within ${timeout} ms`));
      }, timeout),
    );
  };

  readonly #onAck = (): void => {
    if (this.#stopped) return;
    clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
    this.#lastAck = now();
    this.#arm(this.#time);
  };
}

export interface PingPolicyOptions {
  /** Least ms between a client's pings; 0: any rate. */
  readonly minTime: number;
  /** Pings while no call runs are fine (else they must be two hours apart). */
  readonly permitWithoutCalls: boolean;
  /** Pings too soon that are forgiven; one more is refused. 0: no limit. */
  readonly maxStrikes: number;
}

/**
 * A server's judgement of one connection's pings (A8, "Server Enforcement"): a ping sooner than
 * minTime after the last good one is a strike, and a strike past maxStrikes earns GOAWAY
 * too_many_pings. Sending headers or data forgives them all: pings have uses beyond keepalive
 * (grpc-go's clients ping to measure bandwidth as data arrives).
 */
export class PingPolicy {
  readonly #options: PingPolicyOptions;
  #lastValid = -Infinity;
  #strikes = 0;

  constructor(options: PingPolicyOptions) {
    this.#options = options;
  }

  /** A ping arrived while `calls` ran: true when the client has now pinged too often. */
  received(calls: number): boolean {
    const t = now();
    const min = calls === 0 && !this.#options.permitWithoutCalls ? PING_WITHOUT_CALLS_MIN_TIME : this.#options.minTime;
    if (this.#lastValid + min <= t) {
      this.#lastValid = t;
      return false;
    }
    this.#strikes++;
    return this.#options.maxStrikes > 0 && this.#strikes > this.#options.maxStrikes;
  }

  /** Headers or data were sent: the next ping is welcome whenever it comes. */
  sent(): void {
    this.#lastValid = -Infinity;
    this.#strikes = 0;
  }
}
