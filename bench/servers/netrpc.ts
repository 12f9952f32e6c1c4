// The netrpc rows: our Server on tcp, one port for every codec, gRPC and WebSocket upgrades: the
// example UserServer (json, msgpack), user.User from examples/user/user.proto on a plain object
// (protobuf), and the stream rows' Ticks.
import { Server, json, msgpack } from "../../index.js";
import { protobuf } from "../../codecs/protobuf/index.js";
import { UserServer } from "../../examples/services.js";
import { Ticks } from "../stream.js";
import { PROTO_FILE, protoUserService } from "../user.js";
import { ready } from "./ready.js";

const server = new Server({ codecs: [json, msgpack, protobuf({ proto: PROTO_FILE })] });
server.register(new UserServer());
server.register(protoUserService, { name: "user.User" });
server.register(new Ticks());
const listener = await server.listen("tcp://127.0.0.1:0");
if (listener.port === undefined) throw new Error(`listener ${listener.url} has no port`);
ready(listener.port);
