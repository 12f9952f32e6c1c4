// The example server: the classic net/rpc services on every --listen address.
//   npm run example-server -- --listen tcp://127.0.0.1:1234 [--listen unix:netrpc.sock] [--listen grpc://127.0.0.1:50051]
// Every tcp/unix port speaks json, msgpack, protobuf and gRPC; each connection's first bytes pick
// one. grpc:// ports speak gRPC only. Health checking and reflection are served too.
import { parseArgs } from "node:util";
import { Server, registerHealth, registerReflection } from "../index.js";
import { Arith, COUNTER_STREAMS, Counter, Slow, User, UserServer, USER_PROTO } from "./services.js";

const { values } = parseArgs({ options: { listen: { type: "string", multiple: true } } });
const addresses = values.listen?.length ? values.listen : ["tcp://127.0.0.1:1234"];

const server = new Server();
server.register(new UserServer()).register(new Arith()).register(new Slow());
// Streams need gRPC (grpc:// or the HTTP/2 preface on a tcp port).
server.register(new Counter(), COUNTER_STREAMS);
// user.User from user.proto: served over protobuf (and json and msgpack) on the same ports.
server.register(new User(), { service: "user.User", proto: USER_PROTO });
const health = registerHealth(server);
registerReflection(server);

for (const address of addresses) {
  const listener = await server.listen(address);
  process.stdout.write(`LISTENING ${listener.url}\n`);
}

const stop = () => {
  // Finish the calls in flight, then exit; a second signal cuts them short.
  process.removeListener("SIGTERM", stop);
  process.removeListener("SIGINT", stop);
  process.once("SIGTERM", () => void server.close());
  process.once("SIGINT", () => void server.close());
  health.shutdown();
  void server.shutdown().then(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
