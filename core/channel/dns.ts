// dns:///host:port: every A and AAAA record, from node:dns `lookup` with `all: true` (the
// system resolver, so /etc/hosts counts). Resolved again when the channel asks (a connection
// failed; at most once per minResolveInterval), every resolveInterval if set, and with backoff
// after a failed lookup.
import { promises as dnsPromises } from "node:dns";
import { isIP } from "node:net";
import { Code } from "../codes.js";
import { RpcError } from "../errors.js";
import { timerDelay } from "../options.js";
import { Backoff } from "./backoff.js";
import { DEFAULT_MIN_RESOLVE_INTERVAL, type LookupFunction } from "./options.js";
import { noAddresses, registerResolver, type ResolvedAddress, type Resolver, type ResolverFactory } from "./resolver.js";
import { addressFor, splitHostPort } from "./target.js";

const systemLookup: LookupFunction = (hostname, options) => dnsPromises.lookup(hostname, options);

export const dnsResolver: ResolverFactory = (target, listener, options) => {
  if (target.authority) {
    throw new TypeError(`rpc: ${target.text}: a DNS server in the target is not supported; the system resolver is used (hint: dns:///${target.endpoint})`);
  }
  const { host, port } = splitHostPort(target.endpoint, target);
  addressFor(target, host, port); // a bad ?transport= is refused now, at dial
  const lookup = options.lookup ?? systemLookup;
  const minInterval = options.minResolveInterval ?? DEFAULT_MIN_RESOLVE_INTERVAL;
  const interval = options.resolveInterval || undefined;
  const retry = new Backoff(options.backoff);
  let closed = false;
  let running = false;
  let again = false;
  let lastStart = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let due = Infinity;

  /** Resolves after `delay` ms, unless one is already due sooner (`replace`: whatever is due). */
  const schedule = (delay: number, replace = false) => {
    const at = Date.now() + Math.max(0, delay);
    if (timer !== undefined && due <= at && !replace) return;
    clearTimeout(timer);
    due = at;
    timer = setTimeout(resolve, timerDelay(Math.max(0, delay)));
    timer.unref?.();
  };

  async function resolve(): Promise<void> {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    timer = undefined;
    due = Infinity;
    running = true;
    lastStart = Date.now();
    let found: ResolvedAddress[] | undefined;
    let failure: RpcError | undefined;
    try {
      const records = await lookup(host, { all: true });
      const seen = new Set<string>();
      found = [];
      for (const record of records) {
        if (seen.has(record.address)) continue;
        seen.add(record.address);
        const address = addressFor(target, record.address, port);
        found.push(isIP(host) ? { address } : { address, servername: host });
      }
      if (found.length === 0) failure = noAddresses(target, `no A or AAAA records for ${host}`);
    } catch (err) {
      failure = new RpcError(Code.UNAVAILABLE, `rpc: ${target.text}: cannot resolve ${host}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
    running = false;
    if (closed) return;
    if (failure) {
      listener.error(failure);
      schedule(retry.next(), true);
    } else {
      retry.reset();
      listener.addresses(found!);
      if (interval !== undefined) schedule(interval, true);
    }
    if (again) {
      again = false;
      resolveNow();
    }
  }

  function resolveNow(): void {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    // Failing connections ask often; the DNS server hears from us at most once per minInterval.
    const wait = lastStart + minInterval - Date.now();
    if (wait <= 0) void resolve();
    else schedule(wait);
  }

  queueMicrotask(() => void resolve());
  const resolver: Resolver = {
    resolveNow,
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
  return resolver;
};

registerResolver("dns", dnsResolver);
