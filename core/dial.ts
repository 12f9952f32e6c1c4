// dial(target): a Client on a channel to the target (one address, or a resolver's list).
import type tls from "node:tls";
import { Client } from "./client.js";
import { checkClientOptions, type ClientOptions } from "./call-options.js";
import { StreamClientConnection } from "./client-conn.js";
import { DuplexChannel } from "./duplex-channel.js";
import type { Codec } from "./codec.js";
import { Channel } from "./channel/channel.js";
import type { ChannelOptions } from "./channel/options.js";
import type { ResolvedAddress } from "./channel/resolver.js";
import type { AttemptOptions, Connected } from "./channel/subchannel.js";
import { codecFor, codecNamed } from "../codecs/registry.js";
import { parseTarget, transportFor } from "../transports/registry.js";
import { dialGrpc } from "../transports/grpc/client.js";
import { messageCodec, type MessageCodec } from "../transports/grpc/messages.js";
import { dialWebSocket, type WebSocketConnection } from "../transports/ws/dial.js";
import { nodeWebSocket } from "../transports/ws/node.js";
import { keepaliveSettings, type KeepaliveSettings } from "./keepalive.js";

export interface DialOptions extends Omit<ClientOptions, "peer">, ChannelOptions {
  /** Milliseconds to wait for each connection attempt; default 20 s (gRPC's minimum connect timeout). */
  connectTimeout?: number;
  /** Abort the dial (the first connection; a lazy dial has none to abort). */
  signal?: AbortSignal;
  /** .proto files for `?codec=protobuf`, and for grpc:// (where they make protobuf the codec). */
  proto?: string | readonly string[];
  /** tls://, grpcs:// and wss://: CA, client certificate and key (mutual TLS), servername, rejectUnauthorized. */
  tls?: tls.ConnectionOptions;
  /**
   * Milliseconds from a ping's ack to the next ping: HTTP/2 PING on grpc:// and grpcs://, a
   * WebSocket ping on ws:// and wss:// from Node, a ping envelope on tcp://, tls:// and unix
   * (answered by netrpc servers, not Go's); default none, as gRPC. Servers refuse pings more often
   * than they permit (gRPC's default: every 5 minutes) with GOAWAY too_many_pings, after which
   * the next connection of this client pings half as often.
   */
  keepaliveTime?: number;
  /** Milliseconds a ping may go unacknowledged before the connection is dropped (UNAVAILABLE); default 20 s. */
  keepaliveTimeout?: number;
  /** Ping also while no call is running; default false (servers refuse that unless they permit it). */
  keepalivePermitWithoutCalls?: boolean;
  /**
   * @deprecated Use keepaliveTime (with keepalivePermitWithoutCalls). ws:// and wss://: a ping
   * every interval, calls or not; one still unanswered when the next is due ends the connection.
   */
  keepaliveInterval?: number;
}

/** How one address is dialed: worked out once per address (a protobuf codec loads its .proto files). */
type Plan =
  | { readonly kind: "grpc"; readonly url: URL; readonly codec: Codec; readonly messages: MessageCodec }
  | { readonly kind: "ws" | "stream"; readonly url: URL; readonly codec: Codec };

/**
 * Connects to `tcp://host:port`, `tls://host:port`, `unix:///path` (or a bare `host:port`),
 * `ws://host:port/path` / `wss://host:port/path` (WebSocket), a gRPC server at
 * `grpc://host:port` / `grpcs://host:port`, or through a resolver: `dns:///host:port`,
 * `static:///host:port,host:port` (`?transport=` and `?codec=` say how each address is dialed).
 * `?codec=` in the address or `options.codec` picks the codec: default JSON, except over gRPC
 * with `proto`, where it is protobuf. Unless `lazy`, resolves once connected and rejects with
 * UNAVAILABLE when the first attempt at every address failed.
 */
export async function dial(target: string, options: DialOptions = {}): Promise<Client> {
  const max = checkClientOptions(options);
  // One for every connection of this client: a server's too_many_pings slows the later ones.
  const keepalive = keepaliveSettings(options);
  const plans = new Map<string, Plan>();
  const planFor = (address: string): Plan => {
    let plan = plans.get(address);
    if (!plan) plans.set(address, (plan = makePlan(address, options)));
    return plan;
  };
  const channel = new Channel({
    target,
    options,
    connector: (address, attempt) => connect(planFor(address.address), address, options, max, attempt, keepalive),
    checkAddress: planFor,
  });
  if (!options.lazy) {
    try {
      await channel.connect(options.signal);
    } catch (err) {
      channel.close();
      throw err;
    }
  }
  return new Client(channel, { ...options, peer: channel.peer });
}

function makePlan(address: string, options: DialOptions): Plan {
  const url = parseTarget(address);
  const proto = options.proto === undefined ? {} : { proto: options.proto };
  if (url.protocol === "grpc:" || url.protocol === "grpcs:") {
    const fallback = options.proto === undefined ? undefined : codecNamed("protobuf", proto);
    const codec = options.codec ?? codecFor(url, fallback, proto);
    return { kind: "grpc", url, codec, messages: messageCodec(codec) };
  }
  const codec = options.codec ?? codecFor(url, undefined, proto);
  if (url.protocol === "ws:" || url.protocol === "wss:") return { kind: "ws", url, codec };
  transportFor(url);
  return { kind: "stream", url, codec };
}

/** One connection to one address, over the transport its scheme names. */
async function connect(plan: Plan, address: ResolvedAddress, options: DialOptions, max: number, attempt: AttemptOptions, keepalive: KeepaliveSettings | undefined): Promise<Connected> {
  const { url, codec } = plan;
  // An address a resolver found by name is checked against that name's certificate.
  const tlsOptions = address.servername && options.tls?.servername === undefined ? { ...options.tls, servername: address.servername } : options.tls;
  const dialOptions = { connectTimeout: attempt.connectTimeout, signal: attempt.signal };
  if (plan.kind === "grpc") {
    const conn = await dialGrpc(url, { ...dialOptions, codec: plan.messages, maxMessageSize: max, tls: tlsOptions, keepalive });
    return { connection: conn, peer: conn.peer };
  }
  if (plan.kind === "ws") {
    let conn: WebSocketConnection | undefined;
    const WebSocket = nodeWebSocket({ tls: tlsOptions, maxMessageSize: max, keepalive, busy: () => (conn?.pending ?? 0) > 0 });
    conn = await dialWebSocket(url, { ...dialOptions, codec, maxMessageSize: max, WebSocket });
    return { connection: conn, peer: conn.peer };
  }
  const { stream, peer } = await transportFor(url).dial(url, { ...dialOptions, tls: tlsOptions });
  const session = codec.fork();
  return { connection: new StreamClientConnection(new DuplexChannel(stream, session, codec.name, max), session, keepalive), peer };
}
