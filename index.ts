// netrpc's public API.
export { Server, type ServerOptions, type ServeConnOptions } from "./core/server.js";
export { Client, type ClientOptions, type CallOptions, type ServiceProxy, type ProxyMethod } from "./core/client.js";
export { dial, type DialOptions } from "./core/dial.js";
export { RpcError, type RpcErrorOptions } from "./core/errors.js";
export { Code, codeName } from "./core/codes.js";
export { CallContext, type Peer } from "./core/context.js";
export { compose, type Interceptor, type Next, type Request } from "./core/interceptor.js";
export type { Metadata } from "./core/metadata.js";
export type { RegisterOptions, Handler } from "./core/registry.js";
export type { Codec, CodecSession, Encoded } from "./core/codec.js";
export type { Framer } from "./core/framing/framer.js";
export type { Listener, StreamTransport, Connection } from "./core/transport.js";
export { json } from "./codecs/json.js";
export { registerCodec, codecNamed } from "./codecs/registry.js";
export { registerTransport } from "./transports/registry.js";
export { tcp } from "./transports/tcp.js";
export { DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_CONCURRENT_CALLS } from "./core/options.js";
