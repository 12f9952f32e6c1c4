// msgpack: record keys once per connection, a bounded structure table, and no desync after a failed encode.
import t from "tap";
import { Packr } from "msgpackr";
import { msgpack, Code, RpcError, MAX_STRUCTURES, type CallContext } from "../../index.js";
import { LineSocket, rejection, startServer, connect } from "../helpers/net.js";
import { LengthFramer } from "../../core/framing/length.js";
import { encodeHello } from "../../core/preface.js";

const user = { Id: "1", Name: "bala", Phone: "13100001111" };

t.test("like gob, a record's keys are sent once per connection, then values only", async (t) => {
  const sender = msgpack.fork();
  const receiver = msgpack.fork();
  const first = sender.encodeResponse({ kind: "response", id: 0, result: user }) as Uint8Array;
  const second = sender.encodeResponse({ kind: "response", id: 1, result: user }) as Uint8Array;
  t.ok(second.length < first.length - 10, `first ${first.length} bytes, then ${second.length}`);
  t.notOk(Buffer.from(second).includes("Phone"), "the keys are not repeated");
  t.same(receiver.decodeResponse(first), { kind: "response", id: 0, result: user });
  t.same(receiver.decodeResponse(second), { kind: "response", id: 1, result: user });
  // A fresh connection starts over: its decoder has never seen the structure.
  t.throws(() => msgpack.fork().decodeResponse(second), RpcError);
});

t.test("a peer cannot make a connection hold unbounded record structures", async (t) => {
  const session = msgpack.fork();
  const hostile = new Packr({ sequential: true, maxOwnStructures: 4000 });
  let failure: unknown;
  for (let i = 0; i < MAX_STRUCTURES + 50 && !failure; i++) {
    const frame = hostile.pack([0, i, "X.Y", { [`k${i}`]: i }, null, null]);
    try {
      session.decodeRequest(frame);
    } catch (err) {
      failure = err;
    }
  }
  t.ok(failure instanceof RpcError, "decoding stops with an RpcError");
  t.equal((failure as RpcError).code, Code.RESOURCE_EXHAUSTED);
  t.match((failure as RpcError).message, /record structures/);

  // Over TCP: the flooding connection is closed, others keep working.
  const { port, url } = await startServer(t);
  const bystander = await connect(t, `${url}?codec=msgpack`);
  const raw = await LineSocket.connect(t, port);
  const framer = new LengthFramer(1 << 20);
  const flood = new Packr({ sequential: true, maxOwnStructures: 4000 });
  await raw.write(encodeHello("msgpack"));
  const frames = [];
  for (let i = 0; i < MAX_STRUCTURES + 50; i++) frames.push(framer.frame(flood.pack([0, i, "Arith.Multiply", { [`k${i}`]: i }, null, null])) as Uint8Array);
  await raw.write(Buffer.concat(frames));
  t.ok(await raw.waitClosed(10_000), "the flooding connection is closed");
  t.equal(await bystander.call("Arith.Multiply", { A: 4, B: 5 }), 20);
});

class Odd {
  Hostile(): unknown {
    return { fine: 1, get boom(): never { throw new Error("getter exploded"); } };
  }
  Shape(n: number): unknown {
    return { [`field${n}`]: n, again: [n] };
  }
  Echo(v: unknown, ctx: CallContext): unknown {
    return { v, md: ctx.metadata };
  }
}

t.test("a failed encode leaves the stream in step: later new shapes still decode", async (t) => {
  const { url } = await startServer(t, { services: [new Odd()] });
  const c = await connect(t, `${url}?codec=msgpack`);
  for (let round = 0; round < 3; round++) {
    const err = await rejection(c.call("Odd.Hostile"));
    t.equal(err.code, Code.INTERNAL);
    t.match(err.message, /cannot encode result as msgpack/);
    t.same(await c.call("Odd.Shape", round), { [`field${round}`]: round, again: [round] });
  }
});

t.test("values msgpack carries that JSON cannot", async (t) => {
  const { url } = await startServer(t, { services: [new Odd()] });
  const c = await connect(t, `${url}?codec=msgpack`);
  const values: unknown[] = [new Uint8Array([0, 1, 255]), 2n ** 100n, -(2n ** 63n), undefined, null, { nested: { deep: [1, "é🎉", { x: undefined }] } }, new Date(86_400_000)];
  for (const v of values) {
    const { v: back } = (await c.call("Odd.Echo", v)) as { v: unknown };
    if (v instanceof Uint8Array) t.same([...(back as Uint8Array)], [...v], "bytes");
    else t.same(back, v, typeof v);
  }
  const { md } = (await c.call("Odd.Echo", 1, { metadata: { tenant: "acme", tag: ["a", "b"] } })) as { md: unknown };
  t.same({ ...(md as object) }, { tenant: "acme", tag: ["a", "b"] }, "metadata crosses msgpack too");
});

t.test("the README's msgpack bytes are the codec's bytes", async (t) => {
  const session = msgpack.fork();
  const framer = new LengthFramer(1 << 20);
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  const first = framer.frame(session.encodeResponse({ kind: "response", id: 0, result: user })) as Uint8Array;
  const later = framer.frame(session.encodeResponse({ kind: "response", id: 1, result: user })) as Uint8Array;
  t.equal(hex(first), "00000028" + "930100" + "d47240" + "93a24964a44e616d65a550686f6e65" + "a131a462616c61ab3133313030303031313131");
  t.equal(hex(later), "00000017" + "930101" + "40" + "a131a462616c61ab3133313030303031313131");
});

t.test("the session's framer sends each packed message in place, reads frames as plain views, and copies bytes out", async (t) => {
  const sender = msgpack.fork();
  const receiver = msgpack.fork();
  const framer = sender.createFramer(1 << 20);
  const a = sender.encodeResponse({ kind: "response", id: 0, result: user }) as Uint8Array;
  const frameA = framer.frame(a) as Uint8Array;
  t.equal(frameA.buffer, a.buffer, "the frame is the packed bytes with their prefix, not a copy");
  t.equal(frameA.byteOffset, a.byteOffset - 4);
  t.same([...frameA.subarray(0, 4)], [0, 0, 0, a.length], "the prefix msgpackr left room for holds the length");
  // A message framed out of order, or a second time, is copied into a frame of its own.
  const b = sender.encodeResponse({ kind: "response", id: 1, result: { bytes: Buffer.from([1, 2, 3]) } }) as Uint8Array;
  const c = sender.encodeResponse({ kind: "response", id: 2, result: user }) as Uint8Array;
  const frameB = framer.frame(b) as Uint8Array;
  const frameC = framer.frame(c) as Uint8Array;
  const again = framer.frame(c) as Uint8Array;
  t.not(frameB.buffer, b.buffer, "out of order: copied");
  t.not(again.buffer, c.buffer, "framed twice: the second is a copy");
  t.same([...again], [...frameC], "with the same bytes");

  const got: unknown[] = [];
  const chunk = Buffer.concat([frameA, frameB, frameC, again]);
  receiver.createFramer(1 << 20).push(chunk, (frame) => {
    t.equal(Object.getPrototypeOf(frame), Uint8Array.prototype, "a plain Uint8Array view");
    t.equal((frame as Uint8Array).buffer, chunk.buffer, "of the received bytes");
    got.push(receiver.decodeResponse(frame));
  });
  t.same(got, [
    { kind: "response", id: 0, result: user },
    { kind: "response", id: 1, result: { bytes: new Uint8Array([1, 2, 3]) } },
    { kind: "response", id: 2, result: user },
    { kind: "response", id: 2, result: user },
  ]);
  const bytes = (got[1] as { result: { bytes: Uint8Array } }).result.bytes;
  t.ok(bytes instanceof Uint8Array, "bytes arrive as a Uint8Array");
  t.not(bytes.buffer, chunk.buffer, "of their own: the frames decoded after it did not change it");
});
