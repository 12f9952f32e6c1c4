// Codec × transport: the example services (examples/services.ts) through every codec on every
// transport of test/helpers/transports.ts, one server per transport. json and msgpack carry
// UserServer, Arith and Counter's streams; protobuf carries user.User from examples/user/user.proto,
// the only example with a .proto (the others have no message types to encode). Over grpc:// the
// codecs travel as application/grpc+json, application/grpc+msgpack and application/grpc.
import t from "tap";
import { Code, RpcError, type Client, type DialOptions } from "../../index.js";
import { Arith, COUNTER_STREAMS, Counter, MAX_COUNT, USER_PROTO, User, UserServer } from "../../examples/services.js";
import { bounded, rejection } from "../helpers/net.js";
import { TRANSPORTS, dialRow, listenOn, withCodec, type TransportRow } from "../helpers/transports.js";
import type { Teardown } from "../helpers/net.js";

interface CodecColumn {
  name: "json" | "msgpack" | "protobuf";
  dial(t: Teardown, row: TransportRow, url: string): Promise<Client>;
}

const protoOnly: DialOptions = { proto: USER_PROTO };

const COLUMNS: readonly CodecColumn[] = [
  { name: "json", dial: (t, row, url) => dialRow(t, row, url) },
  { name: "msgpack", dial: (t, row, url) => dialRow(t, row, withCodec(url, "msgpack")) },
  // gRPC makes protobuf the codec when given a .proto; byte streams name it in the address.
  { name: "protobuf", dial: (t, row, url) => dialRow(t, row, row.messages === "http2" ? url : withCodec(url, "protobuf"), protoOnly) },
];

/** Every message of a stream, bounded in count and time. */
async function collect<T>(it: AsyncIterable<T>, what: string, max = MAX_COUNT + 1): Promise<T[]> {
  const out: T[] = [];
  await bounded(
    (async () => {
      for await (const m of it) {
        out.push(m);
        if (out.length > max) throw new Error(`${what}: more than ${max} messages`);
      }
    })(),
    10_000,
    what,
  );
  return out;
}

async function expectError(t: Tap, call: Promise<unknown>, code: Code, message: string, what: string): Promise<void> {
  const err = await rejection(call, what);
  t.ok(err instanceof RpcError, `${what}: an RpcError`);
  t.equal(err.codeName, Code[code], `${what}: ${Code[code]}`);
  t.equal(err.message, message, `${what}: the handler's message`);
  t.equal(err.fromPeer, true, `${what}: from the server`);
}

type Tap = Pick<typeof t, "ok" | "equal">;

for (const row of TRANSPORTS) {
  t.test(`transport ${row.name}`, async (t) => {
    const { url } = await listenOn(t, row, (server) => {
      server.register(new UserServer()).register(new Arith()).register(new Counter(), COUNTER_STREAMS);
      server.register(new User(), { service: "user.User", proto: USER_PROTO });
    });

    for (const column of COLUMNS) {
      t.test(`${column.name} over ${row.name}`, async (t) => {
        const client = await column.dial(t, row, url);

        if (column.name === "protobuf") {
          t.test("user.User.GetUser", async (t) => {
            t.strictSame(await bounded(client.call("user.User.GetUser", { id: "1" }), 10_000, "GetUser 1"), { id: "1", name: "bala", phone: "13100001111" });
            t.strictSame(await bounded(client.call("user.User.GetUser", { id: "2" }), 10_000, "GetUser 2"), { id: "2", name: "小王", phone: "13200001111" }, "UTF-8 text");
            await expectError(t, client.call("user.User.GetUser", { id: "3" }), Code.NOT_FOUND, "user not found", "an unknown user");
          });
          return;
        }

        t.test("UserServer.GetUser", async (t) => {
          t.strictSame(await bounded(client.call("UserServer.GetUser", { id: "1" }), 10_000, "GetUser 1"), { Id: "1", Name: "bala", Phone: "13100001111" });
          const users = client.service<UserServer>("UserServer");
          t.strictSame(await bounded(users.GetUser({ id: "2" }), 10_000, "GetUser 2"), { Id: "2", Name: "小王", Phone: "13200001111" }, "through the typed stub, UTF-8 text");
          await expectError(t, client.call("UserServer.GetUser", { id: "3" }), Code.NOT_FOUND, "user not found", "an unknown user");
        });

        t.test("Arith", async (t) => {
          t.equal(await bounded(client.call("Arith.Multiply", { A: 7, B: 8 }), 10_000, "Multiply"), 56);
          t.strictSame(await bounded(client.call("Arith.Divide", { A: 7, B: 2 }), 10_000, "Divide"), { Quo: 3, Rem: 1 });
          await expectError(t, client.call("Arith.Divide", { A: 1, B: 0 }), Code.UNKNOWN, "divide by zero", "divide by zero");
        });

        t.test("Counter streams", async (t) => {
          t.strictSame(await collect(client.serverStream<number>("Counter.Count", 5), "Count 5"), [0, 1, 2, 3, 4], "Count: a server stream");
          t.strictSame(await collect(client.bidiStream<number>("Counter.Sum", [1, 2, 3, 4]), "Sum"), [1, 3, 6, 10], "Sum: a bidi stream of running totals");
          await expectError(t, collect(client.serverStream("Counter.Count", MAX_COUNT + 1), "Count too many"), Code.INVALID_ARGUMENT, `rpc: Counter.Count takes 0..${MAX_COUNT}, got ${MAX_COUNT + 1}`, "Count past its limit");
        });
      });
    }
  });
}
