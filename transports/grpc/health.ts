// gRPC's standard health service (grpc.health.v1.Health): Check, List and Watch over a status table.
import type { Server } from "../../core/server.js";
import type { CallContext } from "../../core/context.js";
import { Code } from "../../core/codes.js";
import { RpcError } from "../../core/errors.js";
import { healthRoot } from "./standard-protos.js";

/** A service's serving status, as named in grpc.health.v1.HealthCheckResponse.ServingStatus. */
export type ServingStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

const STATUSES: ReadonlySet<string> = new Set<ServingStatus>(["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"]);

/** List refuses to answer past this many services, as grpc-go does, rather than send a huge reply. */
const MAX_LIST_SERVICES = 100;

export interface HealthCheckRequest {
  service: string;
}

export interface HealthCheckResponse {
  status: ServingStatus;
}

type Listener = (status: ServingStatus) => void;

/**
 * The status table behind grpc.health.v1.Health. The server as a whole is the service "",
 * SERVING from the start; other services are unknown until setStatus names them. Check fails
 * with NOT_FOUND for an unknown service; Watch reports SERVICE_UNKNOWN and keeps watching.
 */
export class HealthService {
  readonly #statuses = new Map<string, ServingStatus>([["", "SERVING"]]);
  readonly #watchers = new Map<string, Set<Listener>>();
  #shutDown = false;

  /**
   * Sets a service's status ("" is the whole server) and tells its watchers. Ignored after
   * shutdown() until resume(), so a late update cannot report a stopping server healthy.
   */
  setStatus(service: string, status: ServingStatus): void {
    if (typeof service !== "string") throw new TypeError(`health: service must be a string, got ${typeof service}`);
    if (!STATUSES.has(status)) throw new TypeError(`health: unknown status ${String(status)} (use SERVING, NOT_SERVING, SERVICE_UNKNOWN or UNKNOWN)`);
    if (this.#shutDown) return;
    this.#set(service, status);
  }

  /** Forgets a service: Check answers NOT_FOUND again and watchers see SERVICE_UNKNOWN. */
  clearStatus(service: string): void {
    if (this.#shutDown || !this.#statuses.delete(service)) return;
    this.#notify(service, "SERVICE_UNKNOWN");
  }

  /** The status Check would report, or undefined for an unknown service. */
  status(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  /**
   * Marks every known service NOT_SERVING and ignores setStatus until resume(): call it when
   * the server starts shutting down, so load balancers stop sending work first.
   */
  shutdown(): void {
    for (const service of this.#statuses.keys()) this.#set(service, "NOT_SERVING");
    this.#shutDown = true;
  }

  /** Ends what shutdown() began: every known service SERVING again, setStatus honoured. */
  resume(): void {
    this.#shutDown = false;
    for (const service of this.#statuses.keys()) this.#set(service, "SERVING");
  }

  Check(req: HealthCheckRequest): HealthCheckResponse {
    const service = req?.service ?? "";
    const status = this.#statuses.get(service);
    if (status === undefined) throw new RpcError(Code.NOT_FOUND, `unknown service ${JSON.stringify(service)}`);
    return { status };
  }

  List(): { statuses: Record<string, HealthCheckResponse> } {
    if (this.#statuses.size > MAX_LIST_SERVICES) {
      throw new RpcError(Code.RESOURCE_EXHAUSTED, `health: ${this.#statuses.size} services, more than List reports (${MAX_LIST_SERVICES})`);
    }
    const statuses: Record<string, HealthCheckResponse> = Object.create(null) as Record<string, HealthCheckResponse>;
    for (const [service, status] of this.#statuses) statuses[service] = { status };
    return { statuses };
  }

  /**
   * The current status at once, then each change until the call ends (ctx.signal aborts).
   * A watcher that reads slowly gets the newest status, not every step in between, and never
   * the same status twice in a row.
   */
  async *Watch(req: HealthCheckRequest, ctx: CallContext): AsyncGenerator<HealthCheckResponse, void, undefined> {
    const service = req?.service ?? "";
    const signal = ctx.signal;
    if (signal.aborted) return;
    let pending: ServingStatus | undefined = this.#statuses.get(service) ?? "SERVICE_UNKNOWN";
    let wake: (() => void) | undefined;
    const listener: Listener = (status) => {
      pending = status;
      wake?.();
    };
    const onAbort = (): void => wake?.();
    this.#watch(service, listener);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      let last: ServingStatus | undefined;
      while (!signal.aborted) {
        if (pending === undefined || pending === last) {
          pending = undefined;
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        last = pending;
        pending = undefined;
        yield { status: last };
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.#unwatch(service, listener);
    }
  }

  /** How many Watch calls are open on a service (for tests and metrics). */
  watchers(service: string): number {
    return this.#watchers.get(service)?.size ?? 0;
  }

  #set(service: string, status: ServingStatus): void {
    if (this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    this.#notify(service, status);
  }

  #notify(service: string, status: ServingStatus): void {
    const watchers = this.#watchers.get(service);
    if (watchers) for (const listener of [...watchers]) listener(status);
  }

  #watch(service: string, listener: Listener): void {
    let set = this.#watchers.get(service);
    if (!set) this.#watchers.set(service, (set = new Set()));
    set.add(listener);
  }

  #unwatch(service: string, listener: Listener): void {
    const set = this.#watchers.get(service);
    if (!set) return;
    set.delete(listener);
    if (set.size === 0) this.#watchers.delete(service);
  }
}

/**
 * Serves `health` (a new HealthService unless given) as grpc.health.v1.Health on `server` and
 * returns it, so the caller can setStatus() as services come and go.
 */
export function registerHealth(server: Server, health: HealthService = new HealthService()): HealthService {
  server.register(health, { service: "grpc.health.v1.Health", proto: healthRoot() });
  return health;
}
