// Binary metadata on every codec, and call kinds: what register() sees and what a stream transport refuses.
import t from "tap";
import { Code, msgpack, protobuf, type CallContext } from "../../index.js";
import { USER_PROTO } from "../../examples/services.js";
import { Registry } from "../../core/registry.js";
import { checkMetadata, metadataAsText, metadataFromText } from "../../core/metadata.js";
import { connect, rejection, startServer } from "../helpers/net.js";

class Echo {
  Metadata(_: unknown, ctx: CallContext) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(ctx.metadata)) out[k] = Array.isArray(v) ? v.map(show) : show(v);
    return out;
  }
  async *Ticks(n: number) {
    for (let i = 0; i < n; i++) yield i;
  }
}

/** Bytes as "bytes:<hex>", so the reply says which values arrived as bytes. */
const show = (v: string | Uint8Array) => (typeof v === "string" ? v : `bytes:${Buffer.from(v).toString("hex")}`);

t.test("-bin metadata crosses stream codecs as base64 and arrives as bytes", async (t) => {
  const { url } = await startServer(t, { services: [new Echo()] });
  for (const codec of [undefined, msgpack]) {
    const c = await connect(t, url, codec ? { codec } : {});
    const md = { "trace-bin": new Uint8Array([0, 1, 254, 255]), "ids-bin": [new Uint8Array([1]), new Uint8Array([2, 3])], plain: "text", many: ["a", "b"] };
    t.same(await c.call("Echo.Metadata", null, { metadata: md }), { "trace-bin": "bytes:0001feff", "ids-bin": ["bytes:01", "bytes:0203"], plain: "text", many: ["a", "b"] }, `${codec?.name ?? "json"}`);
  }
});

t.test("metadata checks: bytes only under -bin keys", async (t) => {
  t.throws(() => checkMetadata({ plain: new Uint8Array([1]) }), { code: Code.INVALID_ARGUMENT, message: /plain must be a string/ });
  t.throws(() => checkMetadata({ "x-bin": 5 }), { code: Code.INVALID_ARGUMENT, message: /x-bin must be a Uint8Array/ });
  t.throws(() => checkMetadata({ "Bad Key": "v" }), { code: Code.INVALID_ARGUMENT });
  const text = metadataAsText({ "a-bin": new Uint8Array([104, 105]), b: "x" });
  t.same({ ...text }, { "a-bin": "aGk=", b: "x" });
  const back = metadataFromText(text);
  t.same(Buffer.from(back["a-bin"] as Uint8Array), Buffer.from("hi"));
  t.equal(back.b, "x");
});

t.test("call kinds: async generators stream, streams: says the rest, typos are refused", async (t) => {
  const r = new Registry();
  r.register(new Echo());
  const find = (name: string) => {
    const m = r.lookup(name);
    if ("failure" in m) throw new Error(m.message);
    return m;
  };
  t.equal(find("Echo.Metadata").kind, "unary");
  t.equal(find("Echo.Ticks").kind, "server", "an async *method is server-streaming");
  const r2 = new Registry();
  r2.register({ Up() {}, Chat() {} }, { name: "S", streams: { Up: "client", Chat: "bidi" } });
  t.equal((r2.lookup("S.Up") as { kind: string }).kind, "client");
  t.equal((r2.lookup("S.Chat") as { kind: string }).kind, "bidi");
  t.throws(() => new Registry().register({ Up() {} }, { name: "S", streams: { Down: "client" } }), { message: /streams names S\.Down, which is not an exposed method/ });
  t.throws(() => new Registry().register({ Up() {} }, { name: "S", streams: { Up: "sideways" as "client" } }), { message: /must be "server", "client" or "bidi"/ });
});

t.test("a call of the wrong shape gets a clear error over a stream transport, and the connection serves on", async (t) => {
  const { url } = await startServer(t, { services: [new Echo()] });
  const c = await connect(t, url);
  const err = await rejection(c.call("Echo.Ticks", 3));
  t.equal(err.code, Code.INTERNAL, "a unary call of a server-streaming method: the replies do not fit (grpc-go says INTERNAL too)");
  t.match(err.message, /Echo\.Ticks streams its replies; call it with serverStream\(\)/);
  const ticks: unknown[] = [];
  for await (const tick of c.serverStream("Echo.Ticks", 3)) ticks.push(tick);
  t.equal(ticks.length, 3, "serverStream() gets every reply");
  const streamed = await rejection(c.clientStream("Echo.Metadata", [1, 2]));
  t.equal(streamed.code, Code.UNIMPLEMENTED);
  t.match(streamed.message, /Echo\.Metadata takes one request, not a stream \(it is a unary method\)/);
  t.same(await c.call("Echo.Metadata", null, { metadata: { a: "b" } }), { a: "b" }, "the connection still works");
  const proto = await connect(t, url, { codec: protobuf({ proto: USER_PROTO }) });
  t.same(await proto.call("user.User.GetUser", { id: "1" }).catch((e) => e.code), Code.UNIMPLEMENTED, "user.User is not registered here");
});
