// The service map: which "Service.Method" names exist and the functions behind them.
import type { CallContext } from "./context.js";

/** A registered handler: `(params, ctx) => result | Promise<result>`. */
export type Handler = (params: any, ctx: CallContext) => unknown;

/**
 * How a method exchanges messages: one request and one reply (unary), one request and a stream
 * of replies (server), a stream of requests and one reply (client), streams both ways (bidi).
 */
export type CallKind = "unary" | "server" | "client" | "bidi";

export interface Method {
  /** "Service.Method". */
  readonly name: string;
  readonly service: string;
  readonly method: string;
  readonly kind: CallKind;
  /** The handler, bound to the registered object. */
  readonly call: (params: unknown, ctx: CallContext) => unknown;
}

export interface RegisterOptions {
  /** Service name; defaults to the object's class name. Required for plain objects. */
  name?: string;
  /**
   * Streaming kinds by method name, for methods whose kind cannot be seen: `{ Upload: "client",
   * Chat: "bidi" }`. An `async *method` is server-streaming without saying so; a proto service
   * takes its kinds from the descriptor.
   */
  streams?: Readonly<Record<string, Exclude<CallKind, "unary">>>;
}

export interface RegistryEntryOptions extends RegisterOptions {
  /** Wire method name -> the object's method name, when a descriptor names the methods (proto services). */
  methods?: ReadonlyMap<string, string>;
  /** Wire method name -> kind, from the descriptor. */
  kinds?: ReadonlyMap<string, CallKind>;
}

const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor as Function;
const KINDS: ReadonlySet<string> = new Set(["unary", "server", "client", "bidi"]);

/** An `async *method` streams its replies; anything else is unary unless told otherwise. */
function kindOf(fn: Function, method: string, options: RegistryEntryOptions): CallKind {
  const told = options.kinds?.get(method) ?? (options.streams && Object.hasOwn(options.streams, method) ? options.streams[method] : undefined);
  if (told !== undefined) {
    if (!KINDS.has(told)) throw new TypeError(`rpc.Register: stream kind of ${method} must be "server", "client" or "bidi", got ${String(told)}`);
    return told;
  }
  return fn instanceof AsyncGeneratorFunction ? "server" : "unary";
}

const SERVICE_NAME = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;

/**
 * The names an object exposes. For a class instance: the functions on its own prototype, then
 * on its bases while each is a class written with `class` syntax, so your own base classes count
 * but built-in and function-style bases (Map, EventEmitter, EventTarget) end the walk and never
 * leak emit(), clear() and the like; for a plain object: its own functions.
 * Never `constructor`, never `_`-prefixed names, never symbols, never accessors (reading a
 * getter would run user code at registration), never a name Object.prototype has (a class's own
 * toString or valueOf is for its own use, and "toString" must mean the same on every service).
 */
/**
 * Names never exposed, on any service: `_private` ones and every name Object.prototype has
 * (constructor, toString, __proto__, ...), even when a class defines its own.
 */
export function isReservedName(name: string): boolean {
  return name.startsWith("_") || Object.hasOwn(Object.prototype, name);
}

export function exposedMethods(obj: object): Map<string, Function> {
  const found = new Map<string, Function>();
  const proto = Object.getPrototypeOf(obj);
  const plain = proto === Object.prototype || proto === null;
  // The object's own prototype always counts (ES5-style constructors, Object.create(methods));
  // above it, only class-syntax user classes do.
  for (let p: object | null = plain ? obj : proto; p && p !== Object.prototype && (plain || p === proto || isUserClass(p)); p = Object.getPrototypeOf(p)) {
    for (const key of Object.getOwnPropertyNames(p)) {
      if (isReservedName(key) || key.includes(".") || found.has(key)) continue;
      const value = Object.getOwnPropertyDescriptor(p, key)?.value;
      if (typeof value === "function") found.set(key, value);
    }
    if (plain) break;
  }
  return found;
}

const BUILT_IN_BASES: ReadonlySet<object> = new Set([Object.prototype, globalThis.EventTarget?.prototype].filter(Boolean) as object[]);

/** True for the prototype of a class declared with `class` syntax that is not built in. */
function isUserClass(proto: object): boolean {
  if (BUILT_IN_BASES.has(proto)) return false;
  const ctor = Object.getOwnPropertyDescriptor(proto, "constructor")?.value;
  if (typeof ctor !== "function") return false;
  const source = Function.prototype.toString.call(ctor);
  return source.startsWith("class") && !source.endsWith("{ [native code] }");
}

export class Registry {
  readonly #services = new Map<string, Map<string, Method>>();

  /** Adds obj's methods under its service name; throws naming the rule that failed. */
  register(obj: object, options: RegistryEntryOptions = {}): string {
    if (typeof obj !== "object" || obj === null) {
      throw new TypeError(`rpc.Register: expected an object, got ${obj === null ? "null" : typeof obj}`);
    }
    const className = (Object.getPrototypeOf(obj) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    const name = options.name ?? (typeof className === "string" && className !== "Object" ? className : "");
    if (!name) throw new TypeError("rpc.Register: no service name for a plain object (hint: register(obj, { name: \"Service\" }))");
    if (!SERVICE_NAME.test(name)) {
      throw new TypeError(`rpc.Register: service name ${JSON.stringify(name)} is not an identifier or a dotted path of identifiers`);
    }
    if (this.#services.has(name)) throw new Error(`rpc: service already defined: ${name}`);
    const methods = new Map<string, Method>();
    const exposed = exposedMethods(obj);
    // With a descriptor, the wire names are its rpcs; each must be one of the object's exposed methods.
    const names = options.methods ?? new Map([...exposed.keys()].map((m) => [m, m] as const));
    for (const [method, own] of names) {
      const fn = exposed.get(own);
      if (!fn) throw new TypeError(`rpc.Register: ${name}.${method} needs a method ${own} on the object`);
      methods.set(method, { name: `${name}.${method}`, service: name, method, kind: kindOf(fn, method, options), call: fn.bind(obj) as Method["call"] });
    }
    for (const method of Object.keys(options.streams ?? {})) {
      if (!methods.has(method)) throw new TypeError(`rpc.Register: option streams names ${name}.${method}, which is not an exposed method`);
    }
    if (methods.size === 0) {
      throw new TypeError(
        `rpc.Register: type ${name} has no exported methods of suitable type ` +
          "(hint: declare methods in a class; constructor, _private, symbol and Object.prototype names are never exposed)",
      );
    }
    this.#services.set(name, methods);
    return name;
  }

  /** Splits at the last dot as Go does; never indexes an object with the wire string. */
  lookup(fullName: string): Method | LookupFailure {
    const dot = fullName.lastIndexOf(".");
    if (dot < 0) return { failure: "ill-formed", message: `rpc: service/method request ill-formed: ${fullName}` };
    const service = this.#services.get(fullName.slice(0, dot));
    if (!service) return { failure: "service", message: `rpc: can't find service ${fullName}` };
    return service.get(fullName.slice(dot + 1)) ?? { failure: "method", message: `rpc: can't find method ${fullName}` };
  }

  /** Every registered "Service.Method", sorted. */
  list(): string[] {
    const out: string[] = [];
    for (const methods of this.#services.values()) for (const m of methods.values()) out.push(m.name);
    return out.sort();
  }
}

export interface LookupFailure {
  readonly failure: "ill-formed" | "service" | "method";
  /** Go's own text for this failure, so Go clients see what a Go server would say. */
  readonly message: string;
}

export function isLookupFailure(m: Method | LookupFailure): m is LookupFailure {
  return "failure" in m;
}
