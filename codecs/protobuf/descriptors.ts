// .proto loading and the method table: wire name "pkg.Service.Method" -> request/response Types.
import protobuf from "protobufjs";
import type { Root, Type, Namespace } from "protobufjs";

/** Parse options for every .proto we read: field names stay as written in the .proto. */
const PARSE_OPTIONS = { keepCase: true } as const;

/** One rpc of a proto service, as the codec and the server's registry see it. */
export interface MethodDescriptor {
  /** The wire name, "user.User.GetUser": the service's full name, a dot, the rpc's name. */
  readonly name: string;
  /** "user.User". */
  readonly service: string;
  /** "GetUser", as written in the .proto. */
  readonly method: string;
  readonly requestType: Type;
  readonly responseType: Type;
  /** True for `rpc X(stream Req)`; the codec refuses streaming rpcs (netrpc calls are unary). */
  readonly requestStream: boolean;
  /** True for `returns (stream Resp)`. */
  readonly responseStream: boolean;
}

/** Wire name -> descriptor. A Map, so names from the wire are only ever keys, never paths. */
export type MethodTable = ReadonlyMap<string, MethodDescriptor>;

/**
 * Parses .proto source text (keepCase: true, so field names match the .proto) and resolves it.
 * Throws an Error naming the problem for bad syntax or an unknown type.
 */
export function parseProto(source: string): Root {
  return resolved(protobuf.parse(source, PARSE_OPTIONS).root, "the given .proto source");
}

/**
 * A resolved Root from .proto file paths (read synchronously, imports relative to each file,
 * google/protobuf/*.proto built in) or from a Root you built yourself, which is resolved and
 * returned as is. keepCase: true, so `string user_id = 1` stays `user_id` in params and results.
 */
export function loadRoot(from: string | readonly string[] | Root): Root {
  if (typeof from !== "string" && !Array.isArray(from)) return resolved(from as Root, "the given Root");
  const files = typeof from === "string" ? [from] : [...(from as readonly string[])];
  let root: Root;
  try {
    root = new protobuf.Root().loadSync(files, PARSE_OPTIONS);
  } catch (err) {
    throw new Error(`rpc: protobuf: cannot load ${files.join(", ")}: ${(err as Error).message}`, { cause: err });
  }
  return resolved(root, files.join(", "));
}

function resolved(root: Root, what: string): Root {
  try {
    root.resolveAll();
    return root;
  } catch (err) {
    throw new Error(`rpc: protobuf: cannot resolve ${what}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Every rpc of every service in `roots`, by wire name. The same name defined in two roots must
 * have the same request and response types (the same file loaded twice is fine); otherwise a
 * TypeError names the conflict. The table is a snapshot: load every .proto before building it.
 */
export function methodTypes(roots: Root | readonly Root[]): MethodTable {
  const table = new Map<string, MethodDescriptor>();
  for (const root of Array.isArray(roots) ? roots : [roots as Root]) {
    for (const md of describeAll(root.resolveAll())) {
      const seen = table.get(md.name);
      if (!seen) table.set(md.name, md);
      else if (!sameShape(seen, md)) {
        throw new TypeError(`rpc: protobuf: method ${md.name} is defined twice with different types (${signature(seen)} and ${signature(md)})`);
      }
    }
  }
  return table;
}

/**
 * The rpcs of one service, e.g. `serviceMethods(root, "user.User")` -> [{ method: "GetUser", ... }],
 * in .proto order. Throws a TypeError when no root defines the service.
 */
export function serviceMethods(roots: Root | readonly Root[], service: string): MethodDescriptor[] {
  const found = [...methodTypes(roots).values()].filter((md) => md.service === service);
  if (found.length > 0) return found;
  const known = new Set([...methodTypes(roots).values()].map((md) => md.service));
  throw new TypeError(`rpc: protobuf: no service ${service} in the loaded protos (services: ${[...known].join(", ") || "none"})`);
}

function describeAll(ns: Namespace): MethodDescriptor[] {
  const out: MethodDescriptor[] = [];
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Service) {
      const service = nested.fullName.slice(1);
      for (const m of nested.methodsArray) {
        m.resolve();
        out.push({
          name: `${service}.${m.name}`,
          service,
          method: m.name,
          requestType: m.resolvedRequestType!,
          responseType: m.resolvedResponseType!,
          requestStream: m.requestStream === true,
          responseStream: m.responseStream === true,
        });
      }
    } else if (nested instanceof protobuf.Namespace) {
      out.push(...describeAll(nested));
    }
  }
  return out;
}

function sameShape(a: MethodDescriptor, b: MethodDescriptor): boolean {
  return signature(a) === signature(b);
}

function signature(md: MethodDescriptor): string {
  const stream = (on: boolean) => (on ? "stream " : "");
  return `(${stream(md.requestStream)}${md.requestType.fullName.slice(1)}) returns (${stream(md.responseStream)}${md.responseType.fullName.slice(1)})`;
}
