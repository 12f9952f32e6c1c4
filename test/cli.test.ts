// The netrpc CLI against a live server: results on stdout, errors on stderr with a non-zero exit.
import t from "tap";
import { Server, type CallContext } from "../index.js";
import { Arith, Slow, UserServer } from "../examples/services.js";
import { runTs } from "./helpers/process.js";

class Echo {
  Metadata(_: unknown, ctx: CallContext) {
    return ctx.metadata;
  }
}

t.test("netrpc call", async (t) => {
  const server = new Server();
  server.register(new UserServer()).register(new Arith()).register(new Slow()).register(new Echo());
  const { url } = await server.listen("tcp://127.0.0.1:0");
  t.teardown(() => server.close());
  const cli = (...args: string[]) => runTs("bin/netrpc.ts", args);

  const ok = await cli("call", url, "UserServer.GetUser", '{"id":"2"}');
  t.equal(ok.code, 0, ok.stderr);
  t.same(JSON.parse(ok.stdout), { Id: "2", Name: "小王", Phone: "13200001111" });

  const bare = await cli("call", url.replace("tcp://", ""), "Arith.Multiply", '{"A":6,"B":7}', "--codec", "json");
  t.equal(bare.stdout.trim(), "42", "host:port means tcp");

  const notFound = await cli("call", url, "UserServer.GetUser", '{"id":"9"}');
  t.equal(notFound.code, 1);
  t.equal(notFound.stdout, "");
  t.match(notFound.stderr, /NOT_FOUND \(5\): user not found/);

  const md = await cli("call", url, "Echo.Metadata", "null", "--metadata", "tenant=acme", "--metadata", "tag=a", "--metadata", "tag=b");
  t.same(JSON.parse(md.stdout), { tenant: "acme", tag: ["a", "b"] });

  const late = await cli("call", url, "Slow.Sleep", "5000", "--timeout", "50");
  t.equal(late.code, 1);
  t.match(late.stderr, /DEADLINE_EXCEEDED \(4\)/);

  const unknown = await cli("call", url, "Nope.Nope", "{}");
  t.match(unknown.stderr, /UNIMPLEMENTED \(12\): rpc: can't find service Nope.Nope/);

  const refused = await cli("call", "tcp://127.0.0.1:1", "Arith.Multiply", "{}");
  t.equal(refused.code, 1);
  t.match(refused.stderr, /UNAVAILABLE \(14\)/);

  const badJson = await cli("call", url, "Arith.Multiply", "{nope");
  t.equal(badJson.code, 2);
  t.match(badJson.stderr, /params are not JSON/);

  const badCodec = await cli("call", url, "Arith.Multiply", "{}", "--codec", "xml");
  t.equal(badCodec.code, 2);
  t.match(badCodec.stderr, /unknown codec "xml"/);

  const usage = await cli("frobnicate");
  t.equal(usage.code, 2);
  t.match(usage.stderr, /usage: netrpc call/);
});

t.test("netrpc call with msgpack and protobuf", async (t) => {
  const { User, USER_PROTO } = await import("../examples/services.js");
  const server = new Server();
  server.register(new Arith()).register(new User(), { service: "user.User", proto: USER_PROTO });
  const { url } = await server.listen("tcp://127.0.0.1:0");
  t.teardown(() => server.close());
  const cli = (...args: string[]) => runTs("bin/netrpc.ts", args);

  const mp = await cli("call", `${url}?codec=msgpack`, "Arith.Multiply", '{"A":6,"B":7}');
  t.equal(mp.stdout.trim(), "42", mp.stderr);
  const flag = await cli("call", url, "Arith.Multiply", '{"A":2,"B":3}', "--codec", "msgpack");
  t.equal(flag.stdout.trim(), "6", flag.stderr);
  const pb = await cli("call", url, "user.User.GetUser", '{"id":"2"}', "--proto", USER_PROTO);
  t.same(JSON.parse(pb.stdout), { id: "2", name: "小王", phone: "13200001111" }, pb.stderr);
  const missing = await cli("call", url, "user.User.GetUser", '{"id":"2"}', "--codec", "protobuf");
  t.equal(missing.code, 2);
  t.match(missing.stderr, /protobuf needs its \.proto/);
});

t.test("netrpc call and list over gRPC", async (t) => {
  const { User, USER_PROTO, Counter, COUNTER_STREAMS } = await import("../examples/services.js");
  const { registerReflection } = await import("../index.js");
  const server = new Server();
  server.register(new User(), { service: "user.User", proto: USER_PROTO }).register(new Counter(), COUNTER_STREAMS).register(new Arith());
  registerReflection(server);
  const { url } = await server.listen("grpc://127.0.0.1:0");
  t.teardown(() => server.close());
  const cli = (...args: string[]) => runTs("bin/netrpc.ts", args);

  const listed = await cli("list", url);
  t.equal(listed.code, 0, listed.stderr);
  t.same(listed.stdout.trim().split("\n"), ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "user.User"]);
  const methods = await cli("list", url, "user.User");
  t.equal(methods.stdout.trim(), "user.User.GetUser(user.GetUserReq) returns (user.GetUserResp)");

  const withProto = await cli("call", url, "user.User.GetUser", '{"id":"1"}', "--proto", USER_PROTO);
  t.equal(withProto.code, 0, withProto.stderr);
  t.same(JSON.parse(withProto.stdout), { id: "1", name: "bala", phone: "13100001111" });
  const byReflection = await cli("call", url, "user.User.GetUser", '{"id":"2"}');
  t.same(JSON.parse(byReflection.stdout), { id: "2", name: "小王", phone: "13200001111" }, "descriptors fetched by reflection");
  const notFound = await cli("call", url, "user.User.GetUser", '{"id":"9"}');
  t.equal(notFound.code, 1);
  t.match(notFound.stderr, /NOT_FOUND \(5\): user not found/);

  const json = await cli("call", url, "Arith.Multiply", '{"A":6,"B":7}', "--codec", "json");
  t.equal(json.stdout.trim(), "42", "application/grpc+json for a plain service");
  const stream = await cli("call", url, "Counter.Count", "3", "--codec", "json");
  t.equal(stream.code, 1, "Counter.Count is a stream: the unary call is refused");

  const notGrpc = await cli("list", "tcp://127.0.0.1:1");
  t.equal(notGrpc.code, 2);
  t.match(notGrpc.stderr, /list needs a grpc:\/\/ or grpcs:\/\/ address/);
});
