// Maps a protobuf service's rpcs onto a plain object's methods, for register(obj, { service, proto }).
import type { Root } from "protobufjs";
import { exposedMethods, type CallKind } from "./registry.js";
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
  /** rpc name -> its kind, from `stream` in the descriptor. */
  readonly kinds: ReadonlyMap<string, CallKind> | undefined;
}

function kindOf(requestStream: boolean, responseStream: boolean): CallKind {
  if (requestStream) return responseStream ? "bidi" : "client";
  return responseStream ? "server" : "unary";
}

/**
 * Reads the service from the proto and pairs each rpc (GetUser) with the object's method of the
 * same name or its lowerCamel form (getUser); rpcs without a method are left out (callers get
 * UNIMPLEMENTED), but at least one must be served. Each method's kind
 * (unary, server, client or bidi streaming) comes from the descriptor.
 */
export function protoService(obj: object, options: ProtoServiceOptions, known: readonly Root[]): ProtoService {
  const root = options.proto === undefined ? undefined : loadRoot(options.proto as string | string[] | Root);
  const roots = root ? [root] : known;
  if (roots.length === 0) return { root: undefined, methods: undefined, kinds: undefined };
  const exposed = exposedMethods(obj);
  const methods = new Map<string, string>();
  const kinds = new Map<string, CallKind>();
  const missing: string[] = [];
  for (const rpc of serviceMethods(roots, options.service)) {
    kinds.set(rpc.method, kindOf(rpc.requestStream, rpc.responseStream));
    const lower = rpc.method[0]!.toLowerCase() + rpc.method.slice(1);
    const own = exposed.has(rpc.method) ? rpc.method : exposed.has(lower) ? lower : undefined;
    if (own) methods.set(rpc.method, own);
    else missing.push(rpc.method);
  }
  // Rpcs the object lacks answer UNIMPLEMENTED, as gRPC servers do; an object serving none of them is a mistake.
  if (methods.size === 0) {
    throw new TypeError(`rpc.Register: ${options.service} needs methods ${missing.join(", ")} on the object (or their lowerCamel names)`);
  }
  return { root, methods, kinds };
}
