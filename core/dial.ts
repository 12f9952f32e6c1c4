// dial(address): connect over the address's transport and wrap the connection in a Client.
import type tls from "node:tls";
import { Client } from "./client.js";
import { checkClientOptions, type ClientOptions } from "./call-options.js";
import { durationOption } from "./options.js";
import { codecFor, codecNamed } from "../codecs/registry.js";
import { parseTarget, transportFor } from "../transports/registry.js";
import { dialGrpc } from "../transports/grpc/client.js";
import { messageCodec } from "../transports/grpc/messages.js";

export interface DialOptions extends Omit<ClientOptions, "peer"> {
  /** Milliseconds to wait for the connection; default 20 s. */
  connectTimeout?: number;
  /** Abort the dial. */
  signal?: AbortSignal;
  /** .proto files for `?codec=protobuf`, and for grpc:// (where they make protobuf the codec). */
  proto?: string | readonly string[];
  /** tls:// and grpcs://: CA, client certificate and key (mutual TLS), servername, rejectUnauthorized. */
  tls?: tls.ConnectionOptions;
}

/**
 * Connects to `tcp://host:port`, `tls://host:port`, `unix:///path` (or a bare `host:port`), or a gRPC server at
 * `grpc://host:port` / `grpcs://host:port`. `?codec=` in the address or `options.codec` picks
 * the codec: default JSON, except over gRPC with `proto`, where it is protobuf. Rejects with
 * UNAVAILABLE when the connection cannot be made.
 */
export async function dial(address: string, options: DialOptions = {}): Promise<Client> {
  const max = checkClientOptions(options);
  durationOption("option connectTimeout", options.connectTimeout);
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
  const { stream, peer } = await transportFor(url).dial(url, { ...dialOptions, tls: options.tls });
  return new Client(stream, { ...options, codec, peer });
}
