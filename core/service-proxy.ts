// Typed stubs for a server class, built without code generation: client.service<UserServer>("UserServer").
import { isReservedName } from "./registry.js";
import type { CallOptions } from "./call-options.js";

type AnyFn = (...args: any[]) => any;

/** A typed stub for one method: params in (optional when the handler's are), the awaited result out. */
export type ProxyMethod<F> = F extends (...args: infer A) => infer R
  ? A extends []
    ? (params?: undefined, options?: CallOptions) => Promise<Awaited<R>>
    : undefined extends A[0]
      ? (params?: A[0], options?: CallOptions) => Promise<Awaited<R>>
      : (params: A[0], options?: CallOptions) => Promise<Awaited<R>>
  : never;

/**
 * The methods of T a server would expose, typed from T. Types cannot tell prototype methods from
 * function-valued fields, or your base classes from a library's: the server exposes only
 * methods declared on (user) class prototypes.
 */
export type ServiceProxy<T> = {
  readonly [K in keyof T as K extends string ? (K extends keyof object | "then" | "toJSON" | `_${string}` ? never : T[K] extends AnyFn ? K : never) : never]: ProxyMethod<T[K]>;
};

/** Names a proxy never forwards: what await, JSON.stringify, String() and inspectors look up. */
const PROBES = new Set(["then", "toJSON", "inspect"]);

/** A stub whose every method calls `${service}.${method}` through `call`. */
export function serviceProxy<T extends object>(service: string, call: (method: string, params?: unknown, options?: CallOptions) => Promise<unknown>): ServiceProxy<T> {
  const stubs = new Map<string, AnyFn>();
  return new Proxy(Object.create(null) as ServiceProxy<T>, {
    get: (_target, key) => {
      if (typeof key !== "string" || PROBES.has(key) || isReservedName(key)) return undefined;
      let stub = stubs.get(key);
      if (!stub) {
        const method = `${service}.${key}`;
        stub = (params?: unknown, options?: CallOptions) => call(method, params, options);
        stubs.set(key, stub);
      }
      return stub;
    },
  });
}
