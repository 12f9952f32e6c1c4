// register(obj, { service, proto }): a protobuf service's rpcs mapped onto a plain object's methods.
import t from "tap";
import { writeFile, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Server, protobuf, Code } from "../../index.js";
import { User, USER_PROTO } from "../../examples/services.js";
import { rejection, startServer, connect, type Teardown } from "../helpers/net.js";

const CHAT_PROTO = `syntax = "proto3";
package chat;
service Room {
  rpc Say(Line) returns (Ack);
  rpc Listen(Line) returns (stream Line);
}
message Line { string text = 1; int64 at = 2; }
message Ack { bool ok = 1; int64 count = 2; }
`;

async function chatProto(t: Teardown): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "netrpc-proto-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "chat.proto");
  await writeFile(file, CHAT_PROTO);
  return file;
}

t.test("rpcs map to methods of the same name or their lowerCamel form", async (t) => {
  const chat = await chatProto(t);
  let count = 0;
  const room = {
    say(line: { text: string }) {
      count++;
      return { ok: line.text.length > 0, count };
    },
    async *listen(line: { text: string }) {
      yield line;
    },
  };
  const { server, url } = await startServer(t);
  server.register(new User(), { service: "user.User", proto: USER_PROTO });
  server.register(room, { service: "chat.Room", proto: chat });
  t.same(server.methods().filter((m) => m.includes(".") && m.split(".").length > 2), ["chat.Room.Listen", "chat.Room.Say", "user.User.GetUser"], "streaming rpcs are registered too");
  const c = await connect(t, url, { codec: protobuf({ proto: [USER_PROTO, chat] }) });
  t.same(await c.call("chat.Room.Say", { text: "hi", at: "5" }), { ok: true, count: "1" }, "int64 arrives as a string");
  t.same(await c.call("user.User.GetUser", { id: "1" }), { id: "1", name: "bala", phone: "13100001111" }, "a second proto joined the codec");
  t.equal((await rejection(c.call("chat.Room.Listen", { text: "x" }))).code, Code.INTERNAL, "a streaming rpc called unary: its replies do not fit");
  const heard: unknown[] = [];
  for await (const line of c.serverStream("chat.Room.Listen", { text: "x" })) heard.push(line);
  t.match(heard, [{ text: "x" }], "a streaming rpc over TCP, in protobuf envelopes");
  t.equal((await rejection(c.call("user.User.GetUser", { Id: "1" }))).code, Code.INVALID_ARGUMENT, "unknown fields are refused");
});

t.test("registration errors name what is missing", async (t) => {
  const chat = await chatProto(t);
  const server = new Server();
  t.throws(() => server.register({ Shout() {} }, { service: "chat.Room", proto: chat }), { message: /chat\.Room needs methods Say, Listen/ });
  t.throws(() => server.register({ Say() {} }, { service: "chat.Nope", proto: chat }), { message: /no service chat\.Nope/ });
  t.throws(() => server.register({ Say() {} }, { service: "chat.Room", proto: "/nonexistent/x.proto" }), { message: /cannot load/ });
  t.throws(() => server.register({ constructor() {}, Say: undefined } as object, { service: "chat.Room", proto: chat }), { message: /needs methods Say/ });
});
