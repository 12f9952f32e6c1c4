// dial(address): connect over the address's transport and wrap the connection in a Client.
import type tls from "node:tls";
import { Client } from "./client.js";
import { checkClientOptions, type ClientOptions } from "./call-options.js";
import { durationOption } from "./options.js";
import { codecFor, codecNamed } from "../codecs/registry.js";
import { parseTarget, transportFor } from "../transports/registry.js";
import { dialGrpc } from "../transports/grpc/client.js";
import { messageCodec } from "../transports/grpc/messages.js";
import { dialWebSocket } from "../transports/ws/dial.js";
import { nodeWebSocket } from "../transports/ws/node.js";

export interface DialOptions extends Omit<ClientOptions, "peer"> {
  /** Milliseconds to wait for the connection; default 20 s. */
  connectTimeout?: number;
  /** Abort the dial. */
  signal?: AbortSignal;
  /** .proto files for `?codec=protobuf`, and for grpc:// (where they make protobuf the codec). */
  proto?: string | readonly string[];
  /** tls://, grpcs:// and wss://: CA, client certificate and key (mutual TLS), servername, rejectUnauthorized. */
  tls?: tls.ConnectionOptions;
  /**
   * ws:// and wss://: milliseconds between pings to the server; a ping still unanswered when the
   * next is due ends the connection (UNAVAILABLE). Default none: the server pings us.
   */
  keepaliveInterval?: number;
}

/**
 * Connects to `tcp://host:port`, `tls://host:port`, `unix:///path` (or a bare `host:port`),
 * `ws://host:port/path` / `wss://host:port/path` (WebSocket), or a gRPC server at
 * `grpc://host:port` / `grpcs://host:port`. `?codec=` in the address or `options.codec` picks
 * the codec: default JSON, except over gRPC with `proto`, where it is protobuf. Rejects with
 * UNAVAILABLE when the connection cannot be made.
 */
export async function dial(address: string, options: DialOptions = {}): Promise<Client> {
  const max = checkClientOptions(options);
  durationOption("option connectTimeout", options.connectTimeout);
  durationOption("option keepaliveInterval", options.keepaliveInterval);
  const url = parseTarget(address);
  const proto = options.proto === undefined ? {} : { proto: options.proto };
  const dialOptions = { ...(options.connectTimeout === undefined ? {} : { connectTimeout: options.connectTimeout }), ...(options.signal ? { signal: options.signal } : {}) };
  if (url.protocol === "grpc:" || url.protocol === "grpcs:") {
    const fallback = options.proto === undefined ? undefined : codecNamed("protobuf", proto);
    const codec = options.codec ?? codecFor(url, fallback, proto);
    const conn = await dialGrpc(url, { ...dialOptions, codec: messageCodec(codec), maxMessageSize: max, tls: options.tls });
    return new Client(conn, { ...options, codec, peer: conn.peer });
  }
  const codec = options.codec ?? codecFor(url, undefined, proto);
  if (url.protocol === "ws:" || url.protocol === "wss:") {
    const WebSocket = nodeWebSocket({ tls: options.tls, maxMessageSize: max, keepaliveInterval: options.keepaliveInterval });
    const conn = await dialWebSocket(url, { ...dialOptions, codec, maxMessageSize: max, WebSocket });
    return new Client(conn, { ...options, codec, peer: conn.peer });
  }
  const { stream, peer } = await transportFor(url).dial(url, { ...dialOptions, tls: options.tls });
  return new Client(stream, { ...options, codec, peer });
}
