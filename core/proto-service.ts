// Maps a protobuf service's rpcs onto a plain object's methods, for register(obj, { service, proto }).
import type { Root } from "protobufjs";
import { exposedMethods } from "./registry.js";
import { loadRoot, serviceMethods } from "../codecs/protobuf/index.js";

export interface ProtoServiceOptions {
  /** The proto service's full name, e.g. "user.User"; it becomes the service name. */
  service: string;
  /** The .proto file(s) that declare it, or a protobufjs Root. */
  proto?: string | readonly string[] | Root;
}

export interface ProtoService {
  readonly root: Root | undefined;
  /** rpc name -> the object's method that serves it. */
  readonly methods: ReadonlyMap<string, string> | undefined;
}

/**
 * Reads the service from the proto and pairs each unary rpc (GetUser) with the object's method
 * of the same name or its lowerCamel form (getUser). Every unary rpc must be served; streaming
 * rpcs are left unregistered (callers get UNIMPLEMENTED) until streaming transports arrive.
 */
export function protoService(obj: object, options: ProtoServiceOptions, known: readonly Root[]): ProtoService {
  const root = options.proto === undefined ? undefined : loadRoot(options.proto as string | string[] | Root);
  const roots = root ? [root] : known;
  if (roots.length === 0) return { root: undefined, methods: undefined };
  const exposed = exposedMethods(obj);
  const methods = new Map<string, string>();
  const missing: string[] = [];
  for (const rpc of serviceMethods(roots, options.service)) {
    if (rpc.requestStream || rpc.responseStream) continue;
    const lower = rpc.method[0]!.toLowerCase() + rpc.method.slice(1);
    const own = exposed.has(rpc.method) ? rpc.method : exposed.has(lower) ? lower : undefined;
    if (own) methods.set(rpc.method, own);
    else missing.push(rpc.method);
  }
  if (missing.length > 0) {
    throw new TypeError(`rpc.Register: ${options.service} needs methods ${missing.join(", ")} on the object (or their lowerCamel names)`);
  }
  return { root, methods };
}
