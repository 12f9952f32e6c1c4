// The browser entry point: what a web app needs to call a netrpc server over WebSocket. Bundle it
// (esbuild, Vite, webpack, Rollup) for the browser; nothing here imports node: at run time.
import protobufjs, { type INamespace, type Root } from "protobufjs";
import { Client } from "../core/client.js";
import { checkClientOptions, type ClientOptions } from "../core/call-options.js";
import { durationOption } from "../core/options.js";
import type { Codec } from "../core/codec.js";
import { json } from "../codecs/json.js";
import { msgpack } from "../codecs/msgpack.js";
import { protobuf as protobufCodec, type ProtobufCodec, type Longs } from "../codecs/protobuf/index.js";
import { dialWebSocket } from "./ws/dial.js";

export { Client, type Requests } from "../core/client.js";
export { RpcError, type RpcErrorOptions } from "../core/errors.js";
export { Code, codeName } from "../core/codes.js";
export type { CallContext, Peer } from "../core/context.js";
export type { ClientOptions, CallOptions } from "../core/call-options.js";
export type { ServiceProxy, ProxyMethod } from "../core/service-proxy.js";
export type { Interceptor, Next, RpcRequest } from "../core/interceptor.js";
export type { Metadata, MetadataValue } from "../core/metadata.js";
export type { Codec } from "../core/codec.js";
export type { ProtobufCodec, Longs } from "../codecs/protobuf/index.js";
export { parseProto } from "../codecs/protobuf/descriptors.js";
export { json, msgpack };

export interface BrowserProtobufOptions {
  /**
   * The .proto descriptors, as protobufjs Roots or their JSON form (`root.toJSON()`, or
   * `pbjs -t json --keep-case`). A browser cannot read .proto files; parseProto() takes their text.
   */
  root: Root | INamespace | readonly (Root | INamespace)[];
  /** How 64-bit integers reach your code: "string" (default), "bigint" or "number". */
  longs?: Longs;
}

const isRoot = (r: Root | INamespace): r is Root => typeof (r as Partial<Root>).resolveAll === "function";

/**
 * The protobuf codec from descriptors already in memory. Throws an Error for descriptors that
 * do not resolve, a TypeError for a missing root or bad options.
 */
export function protobuf(options: BrowserProtobufOptions): ProtobufCodec {
  if ((options as { proto?: unknown })?.proto !== undefined) {
    throw new TypeError("rpc: protobuf: a browser cannot read .proto files; pass { root } (a protobufjs Root, its JSON form, or parseProto(text))");
  }
  if (options?.root === undefined) throw new TypeError("rpc: protobuf: option root is required in a browser");
  const given: readonly (Root | INamespace)[] = Array.isArray(options.root) ? options.root : [options.root as Root | INamespace];
  // Duck-typed, not instanceof: the app may bundle its own copy of protobufjs.
  const root = given.map((r) => (isRoot(r) ? r : protobufjs.Root.fromJSON(r)));
  return protobufCodec(options.longs === undefined ? { root } : { root, longs: options.longs });
}

export interface DialOptions extends Omit<ClientOptions, "peer"> {
  /** Milliseconds to wait for the WebSocket to open; default 20 s. */
  connectTimeout?: number;
  /** Abort the dial. */
  signal?: AbortSignal;
}

const BY_NAME: Readonly<Record<string, Codec>> = { json, msgpack };

/** The codec `?codec=` names; protobuf needs its descriptors, so it comes only through `options.codec`. */
function codecOf(url: URL, options: DialOptions): Codec {
  if (options.codec) return options.codec;
  const name = url.searchParams.get("codec");
  if (name === null) return json;
  const codec = BY_NAME[name];
  if (!codec) throw new TypeError(`rpc: unknown codec ${JSON.stringify(name)} in ${url.href} (in a browser: json or msgpack; protobuf through options.codec)`);
  return codec;
}

/**
 * Connects to a netrpc server at `ws://host:port/path` or `wss://host:port/path` with the
 * browser's WebSocket. `options.codec` (or `?codec=json|msgpack`) picks the codec; default
 * JSON. Rejects with a TypeError for other schemes (a browser cannot open TCP sockets or
 * speak gRPC's HTTP/2 framing), with UNAVAILABLE when the connection cannot be made.
 */
export async function dial(address: string, options: DialOptions = {}): Promise<Client> {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new TypeError(`rpc: cannot parse address ${JSON.stringify(address)} (hint: ws://localhost:8080/rpc)`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new TypeError(`rpc: a browser dials ws:// or wss:// only, not ${url.protocol}// (hint: serve the same services on a ws:// listener)`);
  }
  const max = checkClientOptions(options);
  durationOption("option connectTimeout", options.connectTimeout);
  const codec = codecOf(url, options);
  const conn = await dialWebSocket(url, {
    codec,
    maxMessageSize: max,
    ...(options.connectTimeout === undefined ? {} : { connectTimeout: options.connectTimeout }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return new Client(conn, { ...options, codec, peer: conn.peer });
}
