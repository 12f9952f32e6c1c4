// Our clients: dial() over tcp with the json (Go jsonrpc), msgpack or protobuf codec, over gRPC,
// and over WebSocket (json, msgpack); and the stream rows' server-streaming call.
import { dial, type Client } from "../../index.js";
import { protobuf } from "../../codecs/protobuf/index.js";
import { EXPECTED, EXPECTED_PROTO, METHOD, PARAMS, PROTO_FILE, PROTO_METHOD } from "../user.js";
import { STREAM_COUNT, STREAM_METHOD } from "../stream.js";
import { expectEqual, type BenchClient, type StreamClient } from "./client.js";

function bench(client: Client, method: string, expected: unknown): BenchClient {
  return {
    call: () => client.call(method, PARAMS),
    verify: (result) => expectEqual(result, expected),
    close: () => client.close(),
  };
}

/** UserServer.GetUser over the default codec, JSON. */
export async function connect(port: number): Promise<BenchClient> {
  return bench(await dial(`tcp://127.0.0.1:${port}`), METHOD, EXPECTED);
}

/** UserServer.GetUser over msgpack (?codec=msgpack: a preface, then length-prefixed msgpack). */
export async function connectMsgpack(port: number): Promise<BenchClient> {
  return bench(await dial(`tcp://127.0.0.1:${port}?codec=msgpack`), METHOD, EXPECTED);
}

/** user.User.GetUser over protobuf, with examples/user/user.proto. */
export async function connectProtobuf(port: number): Promise<BenchClient> {
  return bench(await dial(`tcp://127.0.0.1:${port}`, { codec: protobuf({ proto: PROTO_FILE }) }), PROTO_METHOD, EXPECTED_PROTO);
}

/** user.User.GetUser over gRPC (HTTP/2 + protobuf); the tcp port takes the HTTP/2 preface too. */
export async function connectGrpc(port: number): Promise<BenchClient> {
  return bench(await dial(`grpc://127.0.0.1:${port}`, { proto: PROTO_FILE }), PROTO_METHOD, EXPECTED_PROTO);
}

/** UserServer.GetUser over WebSocket with JSON (text messages); the server's tcp port takes the upgrade. */
export async function connectWs(port: number): Promise<BenchClient> {
  return bench(await dial(`ws://127.0.0.1:${port}/`), METHOD, EXPECTED);
}

/** UserServer.GetUser over WebSocket with msgpack (binary messages, subprotocol netrpc.msgpack). */
export async function connectWsMsgpack(port: number): Promise<BenchClient> {
  return bench(await dial(`ws://127.0.0.1:${port}/?codec=msgpack`), METHOD, EXPECTED);
}

/** Ticks.Count(STREAM_COUNT) calls one after another, each message counted as it is read. */
async function streams(address: string): Promise<StreamClient> {
  const client = await dial(address);
  let closing = false;
  return {
    run: async (count) => {
      try {
        while (!closing) for await (const _ of client.serverStream(STREAM_METHOD, STREAM_COUNT)) count();
      } catch (e) {
        if (!closing) throw e; // closing fails the stream in flight: that is how a cell ends
      }
    },
    close: () => {
      closing = true;
      client.close();
    },
  };
}

export const streamTcp = (port: number) => streams(`tcp://127.0.0.1:${port}`);
export const streamTcpMsgpack = (port: number) => streams(`tcp://127.0.0.1:${port}?codec=msgpack`);
export const streamWs = (port: number) => streams(`ws://127.0.0.1:${port}/`);
export const streamWsMsgpack = (port: number) => streams(`ws://127.0.0.1:${port}/?codec=msgpack`);
