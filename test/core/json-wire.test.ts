// The JSON wire format byte for byte: what the server answers, what our client writes, and the
// newline framer underneath both.
import t from "tap";
import { dial, RpcError, Code } from "../../index.js";
import { NewlineFramer } from "../../core/framing/newline.js";
import { LineSocket, rawServer, rejection, sleep, startServer } from "../helpers/net.js";

class Wire {
  Void(): void {}
  Null(): null {
    return null;
  }
  Echo(x: unknown): unknown {
    return x;
  }
  NaN(): number {
    return NaN;
  }
  Infinity(): number {
    return -Infinity;
  }
  BadDate(): Date {
    return new Date(NaN);
  }
  ToJSONNull(): unknown {
    return { toJSON: () => null };
  }
  Fn(): unknown {
    return () => 1;
  }
}

const req = (method: string, params: unknown, id: number | string) =>
  `{"method":${JSON.stringify(method)},"params":[${JSON.stringify(params)}],"id":${JSON.stringify(id)}}`;

t.test("server replies, byte for byte", async (t) => {
  const { port, url } = await startServer(t, { services: [new Wire()] });
  const raw = await LineSocket.connect(t, port);
  t.equal(await raw.exchange('{"method":"Arith.Multiply","params":[{"A":7,"B":8}],"id":0}'), '{"id":0,"result":56,"error":null}');
  t.equal(await raw.exchange('{"method":"Arith.Divide","params":[{"A":1,"B":0}],"id":1}'), '{"id":1,"result":null,"error":"divide by zero","code":2}');
  t.equal(await raw.exchange(req("UserServer.GetUser", { id: "2" }, 2)), '{"id":2,"result":{"Id":"2","Name":"小王","Phone":"13200001111"},"error":null}');
  t.equal(await raw.exchange(req("UserServer.GetUser", { id: "9" }, 3)), '{"id":3,"result":null,"error":"user not found","code":5}');
  t.equal(await raw.exchange(req("Wire.Void", null, 4)), '{"id":4,"result":{},"error":null,"void":true}');
  t.equal(await raw.exchange(req("Wire.Null", null, 5)), '{"id":5,"result":{},"error":null,"null":true}');
  t.equal(await raw.exchange(req("Wire.Fn", null, 6)), '{"id":6,"result":{},"error":null,"void":true}');
  // A bare (non-array) params value is accepted too.
  t.equal(await raw.exchange('{"method":"Arith.Multiply","params":{"A":2,"B":3},"id":7}'), '{"id":7,"result":6,"error":null}');

  const c = await dial(url);
  t.teardown(() => c.close());
  t.equal(await c.call("Wire.Void"), undefined);
  t.equal(await c.call("Wire.Null"), null);
  t.strictSame(await c.call("Wire.Echo", { a: [1, "x", null] }), { a: [1, "x", null] });
});

t.test("a successful reply never carries result:null (Go's client rejects it)", async (t) => {
  const { port, url } = await startServer(t, { services: [new Wire()] });
  const raw = await LineSocket.connect(t, port);
  const c = await dial(url);
  t.teardown(() => c.close());
  let id = 0;
  for (const v of [0, "", false, [], {}, null]) {
    const line = await raw.exchange(req("Wire.Echo", v, ++id));
    t.notMatch(line, /"result":null/, `Echo(${JSON.stringify(v)}): ${line}`);
    t.strictSame(JSON.parse(line).error, null);
    t.strictSame(await c.call("Wire.Echo", v), v, `client gets ${JSON.stringify(v)} back`);
  }
  // Values whose JSON text is "null": they must travel like null does.
  for (const m of ["NaN", "Infinity", "BadDate", "ToJSONNull"]) {
    const line = await raw.exchange(req(`Wire.${m}`, null, ++id));
    t.notMatch(line, /"result":null/, `${m}: ${line}`);
    t.equal(JSON.parse(line).error, null, m);
    t.equal(await c.call(`Wire.${m}`), null, `${m}: the client gets null`);
  }
});

t.test("ids: strings echoed as strings, numbers as numbers", async (t) => {
  const { port } = await startServer(t);
  const raw = await LineSocket.connect(t, port);
  for (const id of ["abc", "0", 'q"uote', "ü", 0, 42, 1.5, -3]) {
    const line = await raw.exchange(req("Arith.Multiply", { A: 2, B: 5 }, id));
    t.equal(line, `{"id":${JSON.stringify(id)},"result":10,"error":null}`, `id ${JSON.stringify(id)}`);
  }
});

t.test("CRLF, blank lines, many requests per write, one request over many writes", async (t) => {
  const { port } = await startServer(t);
  const raw = await LineSocket.connect(t, port);
  await raw.write(req("Arith.Multiply", { A: 3, B: 3 }, 1) + "\r\n");
  t.equal(await raw.readLine(), '{"id":1,"result":9,"error":null}', "CRLF");
  await raw.write("\n\r\n\n" + req("Arith.Multiply", { A: 3, B: 4 }, 2) + "\n\n");
  t.equal(await raw.readLine(), '{"id":2,"result":12,"error":null}', "blank lines are skipped, not answered");

  const N = 200;
  let batch = "";
  for (let i = 0; i < N; i++) batch += req("Arith.Multiply", { A: i, B: 2 }, 1000 + i) + (i % 2 ? "\r\n" : "\n");
  await raw.write(batch);
  const seen = new Map<number, unknown>();
  for (let i = 0; i < N; i++) {
    const r = JSON.parse(await raw.readLine());
    seen.set(r.id, r.result);
  }
  t.equal(seen.size, N, "every request in one write answered once");
  t.ok([...seen].every(([id, result]) => result === (id - 1000) * 2), "each with its own result");

  const one = req("UserServer.GetUser", { id: "2" }, "split");
  const bytes = Buffer.from(one + "\n");
  for (let i = 0; i < bytes.length; i++) {
    await raw.write(bytes.subarray(i, i + 1));
    if (i % 8 === 0) await sleep(1); // let some bytes arrive as separate reads
  }
  t.equal(await raw.readLine(), '{"id":"split","result":{"Id":"2","Name":"小王","Phone":"13200001111"},"error":null}', "byte by byte, across a multi-byte character");

  // Three requests cut into 7-byte pieces, boundaries falling anywhere.
  const three = Buffer.from([1, 2, 3].map((i) => req("Arith.Multiply", { A: i, B: 10 }, 3000 + i) + "\n").join(""));
  for (let i = 0; i < three.length; i += 7) await raw.write(three.subarray(i, i + 7));
  for (const i of [1, 2, 3]) t.equal(await raw.readLine(), `{"id":${3000 + i},"result":${i * 10},"error":null}`);
});

t.test("what our client writes", async (t) => {
  const srv = await rawServer(t);
  const c = await dial(srv.url);
  t.teardown(() => c.close());
  const peer = await srv.accept();

  const first = c.call("X.Y", { a: 1 });
  t.equal(await peer.readLine(), '{"method":"X.Y","params":[{"a":1}],"id":0}', "first call has id 0");
  await peer.write('{"id":0,"result":"ok","error":null}\n');
  t.equal(await first, "ok");

  const second = c.call("X.Y");
  t.equal(await peer.readLine(), '{"method":"X.Y","params":[null],"id":1}', "no params travel as [null]");
  await peer.write('{"id":1,"result":{},"error":null,"void":true}\n');
  t.equal(await second, undefined);

  const timed = c.call("X.Y", 1, { timeout: 5000 });
  const m = /^\{"method":"X\.Y","params":\[1\],"id":2,"timeout":(\d+)\}$/.exec(await peer.readLine());
  t.ok(m, "timeout member sent");
  t.ok(Number(m?.[1]) > 0 && Number(m?.[1]) <= 5000, `timeout ${m?.[1]} is what remains of 5000 ms`);
  await peer.write('{"id":2,"result":{},"error":null,"null":true}\n');
  t.equal(await timed, null);

  const meta = c.call("X.Y", [1, 2], { metadata: { k: "v", list: ["a", "b"] } });
  t.equal(await peer.readLine(), '{"method":"X.Y","params":[[1,2]],"id":3,"metadata":{"k":"v","list":["a","b"]}}');
  await peer.write('{"id":3,"result":[1,2],"error":null}\n');
  t.strictSame(await meta, [1, 2]);

  const both = c.call("X.Y", "s", { timeout: 5000, metadata: { k: "v" } });
  t.match(await peer.readLine(), /^\{"method":"X\.Y","params":\["s"\],"id":4,"timeout":\d+,"metadata":\{"k":"v"\}\}$/);
  await peer.write('{"id":4,"result":"done","error":null}\n');
  t.equal(await both, "done");

  const ac = new AbortController();
  const aborted = rejection(c.call("X.Y", 5, { signal: ac.signal }), "aborted");
  t.equal(await peer.readLine(), '{"method":"X.Y","params":[5],"id":5}');
  ac.abort();
  t.equal((await aborted).code, Code.CANCELLED);
  t.equal(await peer.readLine(), '{"id":5,"cancel":true}', "abort sends a cancel");

  const expiring = rejection(c.call("X.Y", 6, { timeout: 50 }), "expiring");
  t.match(await peer.readLine(), /^\{"method":"X\.Y","params":\[6\],"id":6,"timeout":\d+\}$/);
  t.equal((await expiring).code, Code.DEADLINE_EXCEEDED);
  t.equal(await peer.readLine(), '{"id":6,"cancel":true}', "an expired deadline sends a cancel");

  // Late replies to abandoned calls and replies to unknown ids are ignored.
  await peer.write('{"id":5,"result":1,"error":null}\n{"id":6,"result":1,"error":null}\n{"id":999,"result":1,"error":null}\n');
  const after = c.call("X.Y", 7);
  t.equal(await peer.readLine(), '{"method":"X.Y","params":[7],"id":7}');
  await peer.write('{"id":7,"result":7,"error":null}\n');
  t.equal(await after, 7, "still usable");
});

t.test("how our client reads error replies", async (t) => {
  const srv = await rawServer(t);
  const c = await dial(srv.url);
  t.teardown(() => c.close());
  const peer = await srv.accept();
  const cases: Array<[string, Code, string]> = [
    ['"error":"denied","code":7', Code.PERMISSION_DENIED, "denied"],
    ['"error":"boom"', Code.UNKNOWN, "boom"],
    ['"error":"rpc: can\'t find method X.Y"', Code.UNIMPLEMENTED, "rpc: can't find method X.Y"],
    ['"error":"rpc: can\'t find service X.Y"', Code.UNIMPLEMENTED, "rpc: can't find service X.Y"],
    ['"error":"odd","code":0', Code.UNKNOWN, "odd"],
  ];
  let id = 0;
  for (const [members, code, message] of cases) {
    const p = rejection(c.call("X.Y"), message);
    await peer.readLine();
    await peer.write(`{"id":${id++},"result":null,${members}}\n`);
    const err = await p;
    t.ok(err instanceof RpcError, members);
    t.equal(err.code, code, members);
    t.equal(err.message, message, members);
    t.equal(err.fromPeer, true, members);
  }
  const p = rejection(c.call("X.Y"), "garbage reply");
  await peer.readLine();
  await peer.write("this is not json\n");
  const err = await p;
  t.equal(err.code, Code.INTERNAL);
  t.match(err.message, /^rpc: bad response from server/);
});

t.test("NewlineFramer", async (t) => {
  const collect = (framer: NewlineFramer, ...chunks: Array<string | Buffer>) => {
    const out: string[] = [];
    for (const c of chunks) framer.push(typeof c === "string" ? Buffer.from(c) : c, (f) => out.push(Buffer.from(f).toString("utf8")));
    return out;
  };
  const tooBig = (fn: () => unknown, what: string) => {
    try {
      fn();
      t.fail(`${what}: expected RESOURCE_EXHAUSTED`);
    } catch (err) {
      t.ok(err instanceof RpcError, what);
      t.equal((err as RpcError).code, Code.RESOURCE_EXHAUSTED, what);
      t.match((err as RpcError).message, /exceeds maxMessageSize 4$/, what);
    }
  };

  t.strictSame(collect(new NewlineFramer(100), "a\nbb\nccc\n"), ["a", "bb", "ccc"], "splits lines");
  const f = new NewlineFramer(100);
  t.strictSame(collect(f, "ab"), []);
  t.equal(f.buffered, 2);
  t.strictSame(collect(f, "c\nd"), ["abc"]);
  t.equal(f.buffered, 1);
  t.strictSame(collect(f, "\n"), ["d"]);
  t.equal(f.buffered, 0);
  t.strictSame(collect(new NewlineFramer(100), "a\r\nb\r\n", "c\r", "\n"), ["a", "b", "c"], "CRLF stripped, even split");
  t.strictSame(collect(new NewlineFramer(100), "\n\n\na\n\r\n\n", "\n"), ["a"], "empty lines skipped");
  const text = "x\ny😀z\nend\n";
  const whole = Buffer.from(text);
  const bytewise = collect(new NewlineFramer(100), ...[...whole].map((b) => Buffer.from([b])));
  t.strictSame(bytewise, ["x", "y😀z", "end"], "byte by byte, across a 4-byte character");

  t.strictSame(collect(new NewlineFramer(4), "abcd\n"), ["abcd"], "exactly at the limit, one chunk");
  t.strictSame(collect(new NewlineFramer(4), "ab", "cd\n"), ["abcd"], "exactly at the limit, split");
  t.strictSame(collect(new NewlineFramer(4), "abcd", "\n"), ["abcd"], "exactly at the limit, newline alone");
  t.strictSame(collect(new NewlineFramer(4), "abcd\nefgh\n"), ["abcd", "efgh"], "the limit is per line");
  tooBig(() => collect(new NewlineFramer(4), "abcde\n"), "one over, one chunk");
  tooBig(() => collect(new NewlineFramer(4), "ab", "cde\n"), "one over, split");
  tooBig(() => collect(new NewlineFramer(4), "abcde"), "one over, before any newline");
  tooBig(() => collect(new NewlineFramer(4), "ab", "cde"), "one over, accumulating");
  tooBig(() => collect(new NewlineFramer(4), "ok\nabcde"), "one over after a good line");

  // Refused as soon as it passes the limit: nothing waits for the end of the line.
  const big = new NewlineFramer(4);
  t.doesNotThrow(() => big.push(Buffer.from("abc"), () => {}));
  tooBig(() => big.push(Buffer.from("de"), () => {}), "refused on the chunk that passes");

  t.equal(new NewlineFramer(4).frame('{"a":1}'), '{"a":1}\n');
  t.strictSame(Buffer.from(new NewlineFramer(4).frame(Buffer.from([1, 2]))), Buffer.from([1, 2, 0x0a]));
});
