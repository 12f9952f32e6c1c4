// dial(address): connect over the address's transport and wrap the connection in a Client.
import { Client } from "./client.js";
import { checkClientOptions, type ClientOptions } from "./call-options.js";
import { durationOption } from "./options.js";
import { codecFor } from "../codecs/registry.js";
import { parseTarget, transportFor } from "../transports/registry.js";

export interface DialOptions extends Omit<ClientOptions, "peer"> {
  /** Milliseconds to wait for the connection; default 20 s. */
  connectTimeout?: number;
  /** Abort the dial. */
  signal?: AbortSignal;
  /** .proto files for `?codec=protobuf` (or pass `codec: protobuf({ proto })`). */
  proto?: string | readonly string[];
}

/**
 * Connects to `tcp://host:port`, `unix:///path` (or a bare `host:port`); `?codec=` in the
 * address or `options.codec` picks the codec (default JSON). Rejects with UNAVAILABLE when the
 * connection cannot be made.
 */
export async function dial(address: string, options: DialOptions = {}): Promise<Client> {
  checkClientOptions(options);
  durationOption("option connectTimeout", options.connectTimeout);
  const url = parseTarget(address);
  const codec = options.codec ?? codecFor(url, undefined, options.proto === undefined ? {} : { proto: options.proto });
  const dialOptions = { ...(options.connectTimeout === undefined ? {} : { connectTimeout: options.connectTimeout }), ...(options.signal ? { signal: options.signal } : {}) };
  const { stream, peer } = await transportFor(url).dial(url, dialOptions);
  return new Client(stream, { ...options, codec, peer });
}
