// Our clients: dial() over tcp with the json (Go jsonrpc), msgpack or protobuf codec, and over gRPC.
import { dial, type Client } from "../../index.js";
import { protobuf } from "../../codecs/protobuf/index.js";
import { EXPECTED, EXPECTED_PROTO, METHOD, PARAMS, PROTO_FILE, PROTO_METHOD } from "../user.js";
import { expectEqual, type BenchClient } from "./client.js";

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
