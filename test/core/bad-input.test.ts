// What the server does with bad input on raw sockets: malformed frames, bad fields, oversize
// lines, throwing or unencodable handlers, garbage, duplicate ids and the concurrency limit.
import t from "tap";
import { dial, RpcError, Code } from "../../index.js";
import { LineSocket, pseudoRandomBytes, rejection, sleep, startServer, connect } from "../helpers/net.js";

const MULTIPLY = (id: number | string) => `{"method":"Arith.Multiply","params":[{"A":7,"B":8}],"id":${JSON.stringify(id)}}`;
const MULTIPLIED = (id: number | string) => `{"id":${JSON.stringify(id)},"result":56,"error":null}`;

/** An error line for the connection itself: id null, then the connection closes. */
const CONN_ERROR = /^\{"id":null,"result":null,"error":"(rpc: (?:[^"\\]|\\.)*)","code":(\d+)\}$/;

class Throwing {
  Plain(): never {
    throw new Error("plain failure");
  }
  Str(): never {
    throw "a string";
  }
  Num(): never {
    throw 42;
  }
  CodedObject(): never {
    throw { code: Code.NOT_FOUND, message: "no such thing" };
  }
  CodedError(): never {
    throw Object.assign(new Error("denied"), { code: Code.PERMISSION_DENIED });
  }
  NodeError(): never {
    throw Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
  }
  WithCause(): never {
    throw new TypeError("outer", { cause: new Error("secret inner detail") });
  }
  Rpc(): never {
    throw new RpcError(Code.FAILED_PRECONDITION, "not ready");
  }
  Undef(): never {
    throw undefined;
  }
  Null(): never {
    throw null;
  }
  async RejectUndef(): Promise<never> {
    throw undefined;
  }
  async RejectError(): Promise<never> {
    throw new Error("async failure");
  }
  BigInt(): unknown {
    return { n: 10n };
  }
  Circular(): unknown {
    const o: Record<string, unknown> = { a: 1 };
    o.self = o;
    return o;
  }
  BadToJSON(): unknown {
    return {
      toJSON() {
        throw new Error("toJSON blew up");
      },
    };
  }
}

class Pad {
  Len(s: string): number {
    return Buffer.byteLength(s);
  }
  Repeat(n: number): string {
    return "x".repeat(n);
  }
}

t.test("a line without a readable id: one id-null error line, then that connection closes", async (t) => {
  const { port } = await startServer(t);
  const bystander = await LineSocket.connect(t, port);
  t.equal(await bystander.exchange(MULTIPLY(0)), MULTIPLIED(0));

  const cases = [
    '{"method":"Arith.Multiply",',
    "not json at all",
    "[1,2,3]",
    '"a string"',
    "42",
    '{"method":"Arith.Multiply","params":[{"A":1,"B":2}]}',
    '{"method":"Arith.Multiply","params":[{"A":1,"B":2}],"id":null}',
    '{"method":"Arith.Multiply","params":[{"A":1,"B":2}],"id":{}}',
    '{"method":"Arith.Multiply","params":[{"A":1,"B":2}],"id":true}',
    '{"method":"Arith.Multiply","params":[{"A":1,"B":2}],"id":1e999}',
  ];
  for (const bad of cases) {
    const raw = await LineSocket.connect(t, port);
    const line = await raw.exchange(bad);
    const m = CONN_ERROR.exec(line);
    t.ok(m, `${bad} -> ${line}`);
    t.match(m?.[1], /^rpc: malformed JSON message: /, bad);
    t.equal(m?.[2], String(Code.INVALID_ARGUMENT), bad);
    t.ok(await raw.waitClosed(), `connection closed after ${bad}`);
  }

  // A good request ahead of the bad line in the same write is still answered, first.
  const raw = await LineSocket.connect(t, port);
  await raw.write(`${MULTIPLY(5)}\n{oops\n${MULTIPLY(6)}\n`);
  t.equal(await raw.readLine(), MULTIPLIED(5));
  t.match(await raw.readLine(), CONN_ERROR);
  t.ok(await raw.waitClosed(), "closed");
  t.equal(raw.pendingText, "", "nothing answered after the bad line");

  t.equal(bystander.isClosed, false);
  t.equal(await bystander.exchange(MULTIPLY(1)), MULTIPLIED(1), "the other connection still works");
});

t.test("a readable id with bad fields: an error for that id, the connection stays", async (t) => {
  const { port } = await startServer(t);
  const raw = await LineSocket.connect(t, port);
  const cases: Array<[string, string]> = [
    ['{"method":"Arith.Multiply","params":[1,2],"id":1}', "rpc: params must be an array of one value, got 2"],
    ['{"method":"Arith.Multiply","params":[{"A":1,"B":2}],"id":2,"timeout":-1}', "rpc: timeout must be a non-negative number of milliseconds"],
    ['{"method":"Arith.Multiply","params":[{"A":1,"B":2}],"id":3,"timeout":"5"}', "rpc: timeout must be a non-negative number of milliseconds"],
    ['{"method":"Arith.Multiply","params":[{"A":1,"B":2}],"id":4,"metadata":{"Bad Key":"x"}}', 'rpc: metadata key "Bad Key" must match [0-9a-z_.-]+'],
    ['{"method":"Arith.Multiply","params":[{"A":1,"B":2}],"id":5,"metadata":{"k":5}}', "rpc: metadata value of k must be a string or an array of strings"],
    ['{"method":"Arith.Multiply","params":[{"A":1,"B":2}],"id":6,"metadata":[1]}', "rpc: metadata must be an object of strings"],
    ['{"params":[{"A":1,"B":2}],"id":7}', "rpc: request has no method"],
    ['{"method":42,"params":[{"A":1,"B":2}],"id":"eight"}', "rpc: request has no method"],
  ];
  for (const [line, message] of cases) {
    const id = (JSON.parse(line) as { id: number | string }).id;
    t.equal(await raw.exchange(line), `{"id":${JSON.stringify(id)},"result":null,"error":${JSON.stringify(message)},"code":3}`, line);
    t.equal(await raw.exchange(MULTIPLY(100)), MULTIPLIED(100), `still works after ${line}`);
  }
  t.equal(raw.isClosed, false);
});

t.test("a line over a small maxMessageSize closes the connection", async (t) => {
  const { port, url } = await startServer(t, { server: { maxMessageSize: 1024 } });
  const bystander = await LineSocket.connect(t, port);
  const raw = await LineSocket.connect(t, port);
  await raw.write("x".repeat(2000));
  const line = await raw.readLine();
  const m = CONN_ERROR.exec(line);
  t.ok(m, line);
  t.match(m?.[1], /maxMessageSize 1024/);
  t.equal(m?.[2], String(Code.RESOURCE_EXHAUSTED));
  t.ok(await raw.waitClosed(), "closed");

  // Our client sees the same refusal as a peer error on its pending call.
  const c = await connect(t, url);
  const err = await rejection(c.call("Arith.Multiply", { A: 1, B: 2, pad: "y".repeat(2000) }));
  t.equal(err.code, Code.RESOURCE_EXHAUSTED);
  t.match(err.message, /maxMessageSize 1024/);
  t.equal(err.fromPeer, true);

  t.equal(await bystander.exchange(MULTIPLY(3)), MULTIPLIED(3), "other connections are unaffected");
});

t.test("a reply over the client's maxMessageSize fails its calls with RESOURCE_EXHAUSTED", async (t) => {
  const { url } = await startServer(t, { services: [new Pad()] });
  const c = await dial(url, { maxMessageSize: 100 });
  t.teardown(() => c.close());
  t.equal(await c.call("Pad.Repeat", 10), "x".repeat(10), "small replies pass");
  const err = await rejection(c.call("Pad.Repeat", 200));
  t.equal(err.code, Code.RESOURCE_EXHAUSTED);
  t.match(err.message, /maxMessageSize 100/);
  t.equal(err.fromPeer, false);
  t.equal((await c.closed).code, Code.RESOURCE_EXHAUSTED, "the connection is closed");
});

t.test("a 5 MiB line against the default 4 MiB limit is cut off, not buffered", async (t) => {
  const { port } = await startServer(t);
  const raw = await LineSocket.connect(t, port);
  raw.socket.on("error", () => {}); // EPIPE/ECONNRESET is the expected outcome; LineSocket records it
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const FIVE_MIB = 5 * 1024 * 1024; // then the line's end, then more bytes until the server stops us
  const BOUND = 64 * 1024 * 1024; // keep writing (bounded) to see the server stop reading
  const deadline = Date.now() + 20_000;
  await raw.write('{"method":"Arith.Multiply","params":["');
  let written = 0;
  while (written < BOUND && !raw.isClosed && !raw.error && Date.now() < deadline) {
    const bytes = written === FIVE_MIB ? Buffer.from('"],"id":1}\n') : chunk;
    const ok = raw.socket.write(bytes);
    written += bytes.length;
    if (!ok) await Promise.race([new Promise((resolve) => raw.socket.once("drain", resolve)), raw.closed, sleep(500)]);
  }
  t.ok(await raw.waitClosed(10_000), "the server closed the connection");
  t.ok(written < BOUND, `the writer was stopped after ${written} of ${BOUND} bytes`);
  const line = await raw.readLine(1_000).catch((e: Error) => e.message);
  t.match(line, /^\{"id":null,"result":null,"error":"rpc: message of \d+\+ bytes exceeds maxMessageSize 4194304","code":8\}$/);
});

t.test("a line of exactly maxMessageSize bytes is accepted, one more is refused", async (t) => {
  const LIMIT = 1024;
  const { port } = await startServer(t, { server: { maxMessageSize: LIMIT }, services: [new Pad()] });
  const prefix = '{"method":"Pad.Len","params":["';
  const suffix = '"],"id":1}';
  const lineOf = (bytes: number, fill = "x") => {
    let pad = "";
    while (Buffer.byteLength(prefix + pad + fill + suffix) <= bytes) pad += fill;
    while (Buffer.byteLength(prefix + pad + suffix) < bytes) pad += "x";
    const line = prefix + pad + suffix;
    if (Buffer.byteLength(line) !== bytes) throw new Error("bad test line");
    return { line, padBytes: Buffer.byteLength(pad) };
  };
  const exact = lineOf(LIMIT);
  const splits: Array<[string, string[]]> = [
    ["one write", [exact.line + "\n"]],
    ["split inside", [exact.line.slice(0, 1000), exact.line.slice(1000) + "\n"]],
    ["newline alone", [exact.line, "\n"]],
    ["three parts", [exact.line.slice(0, 10), exact.line.slice(10, 600), exact.line.slice(600), "\n"]],
  ];
  for (const [what, parts] of splits) {
    const raw = await LineSocket.connect(t, port);
    for (const p of parts) await raw.write(p);
    t.equal(await raw.readLine(), `{"id":1,"result":${exact.padBytes},"error":null}`, `${LIMIT} bytes, ${what}`);
    t.equal(await raw.exchange(MULTIPLY(2)), MULTIPLIED(2), `${what}: connection still open`);
    raw.destroy();
  }
  const multi = lineOf(LIMIT, "é");
  const ok = await LineSocket.connect(t, port);
  t.equal(await ok.exchange(multi.line), `{"id":1,"result":${multi.padBytes},"error":null}`, "counted in bytes, multi-byte");

  const over = lineOf(LIMIT + 1);
  const overMulti = lineOf(LIMIT + 1, "é");
  const refusals: Array<[string, string[]]> = [
    ["one write", [over.line + "\n"]],
    ["split inside", [over.line.slice(0, 1000), over.line.slice(1000) + "\n"]],
    ["newline alone", [over.line, "\n"]],
    ["multi-byte", [overMulti.line + "\n"]],
  ];
  for (const [what, parts] of refusals) {
    const raw = await LineSocket.connect(t, port);
    for (const p of parts) await raw.write(p).catch(() => {});
    const line = await raw.readLine();
    t.match(line, /^\{"id":null,"result":null,"error":"rpc: message of \d+\+ bytes exceeds maxMessageSize 1024","code":8\}$/, `${LIMIT + 1} bytes, ${what}`);
    t.ok(await raw.waitClosed(), `${what}: closed`);
  }
});

t.test("handler errors carry the message only, with a sensible code", async (t) => {
  const { port } = await startServer(t, { services: [new Throwing()] });
  const raw = await LineSocket.connect(t, port);
  const cases: Array<[string, string, Code]> = [
    ["Plain", "plain failure", Code.UNKNOWN],
    ["Str", "a string", Code.UNKNOWN],
    ["Num", "42", Code.UNKNOWN],
    ["CodedObject", "no such thing", Code.NOT_FOUND],
    ["CodedError", "denied", Code.PERMISSION_DENIED],
    ["NodeError", "ENOENT: no such file", Code.UNKNOWN],
    ["WithCause", "outer", Code.UNKNOWN],
    ["Rpc", "not ready", Code.FAILED_PRECONDITION],
    ["RejectError", "async failure", Code.UNKNOWN],
  ];
  let id = 0;
  for (const [method, message, code] of cases) {
    const line = await raw.exchange(`{"method":"Throwing.${method}","params":[null],"id":${++id}}`);
    t.equal(line, `{"id":${id},"result":null,"error":${JSON.stringify(message)},"code":${code}}`, method);
    t.notMatch(line, /\bat |\\n|\.ts:|secret/, `${method}: no stack or cause on the wire`);
  }
  // Throwing undefined or null is still a failure, never a success.
  for (const method of ["Undef", "Null", "RejectUndef"]) {
    const reply = JSON.parse(await raw.exchange(`{"method":"Throwing.${method}","params":[null],"id":${++id}}`));
    t.equal(reply.id, id, method);
    t.equal(typeof reply.error, "string", `${method} is reported as an error: ${JSON.stringify(reply)}`);
    t.equal(reply.code, Code.UNKNOWN, method);
    t.notOk(reply.void, `${method} is not a void success`);
  }
  t.equal(await raw.exchange(MULTIPLY(99)), MULTIPLIED(99), "connection keeps working");
});

t.test("a result JSON cannot encode: INTERNAL, the connection keeps working", async (t) => {
  const { port } = await startServer(t, { services: [new Throwing()] });
  const raw = await LineSocket.connect(t, port);
  let id = 0;
  for (const method of ["BigInt", "Circular", "BadToJSON"]) {
    const reply = JSON.parse(await raw.exchange(`{"method":"Throwing.${method}","params":[null],"id":${++id}}`));
    t.equal(reply.id, id, method);
    t.equal(reply.result, null, method);
    t.equal(reply.code, Code.INTERNAL, method);
    t.match(reply.error, /^rpc: cannot encode result as JSON: /, method);
    t.equal(await raw.exchange(MULTIPLY(id)), MULTIPLIED(id), `${method}: connection still works`);
  }
});

t.test("unknown service and method: Go's texts exactly", async (t) => {
  const { port } = await startServer(t);
  const raw = await LineSocket.connect(t, port);
  const cases: Array<[string, string]> = [
    ["Nope.Hello", "rpc: can't find service Nope.Hello"],
    ["Arith.Nope", "rpc: can't find method Arith.Nope"],
    ["NoDot", "rpc: service/method request ill-formed: NoDot"],
    ["Arith.", "rpc: can't find method Arith."],
    [".Multiply", "rpc: can't find service .Multiply"],
  ];
  let id = 10;
  for (const [method, text] of cases) {
    id++;
    t.equal(await raw.exchange(`{"method":${JSON.stringify(method)},"params":[{}],"id":${id}}`), `{"id":${id},"result":null,"error":${JSON.stringify(text)},"code":12}`);
  }
});

t.test("binary garbage never crashes the server; other connections keep working", async (t) => {
  const { port } = await startServer(t);
  const good = await LineSocket.connect(t, port);
  for (let seed = 1; seed <= 20; seed++) {
    const raw = await LineSocket.connect(t, port);
    raw.socket.on("error", () => {});
    const garbage = pseudoRandomBytes(4096, seed * 7919);
    // Half the connections get garbage without any newline, then hang up.
    if (seed % 2 === 0) for (let i = 0; i < garbage.length; i++) if (garbage[i] === 0x0a) garbage[i] = 0x20;
    await raw.write(garbage).catch(() => {});
    if (seed % 2 === 0) raw.end();
    t.ok(await raw.waitClosed(), `seed ${seed}: the garbage connection ends`);
    t.equal(await good.exchange(MULTIPLY(seed)), MULTIPLIED(seed), `seed ${seed}: the good connection works`);
  }
  // Invalid UTF-8 inside a string is not fatal: it is decoded with replacement characters.
  const raw = await LineSocket.connect(t, port);
  await raw.write(Buffer.concat([Buffer.from('{"method":"Arith.Multiply","params":[{"A":2,"B":3}],"id":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]));
  t.equal(await raw.readLine(), '{"id":"\ufffd\ufffd","result":6,"error":null}');
});

t.test("a duplicate in-flight id gets an error; the original call still completes", async (t) => {
  const { port } = await startServer(t);
  const raw = await LineSocket.connect(t, port);
  await raw.write('{"method":"Slow.Sleep","params":[200],"id":7}\n{"method":"Slow.Sleep","params":[1],"id":7}\n');
  t.equal(await raw.readLine(), '{"id":7,"result":null,"error":"rpc: call id 7 is already in flight","code":3}');
  t.equal(await raw.readLine(), '{"id":7,"result":200,"error":null}');
  await raw.write('{"method":"Slow.Sleep","params":[100],"id":"s"}\n{"method":"Arith.Multiply","params":[{"A":7,"B":8}],"id":"s"}\n');
  t.equal(await raw.readLine(), '{"id":"s","result":null,"error":"rpc: call id \\"s\\" is already in flight","code":3}');
  t.equal(await raw.readLine(), '{"id":"s","result":100,"error":null}');
  t.equal(await raw.exchange(MULTIPLY(7)), MULTIPLIED(7), "the id is free again once its call ended");
});

t.test("maxConcurrentCalls: the call over the limit gets RESOURCE_EXHAUSTED", async (t) => {
  const { url } = await startServer(t, { server: { maxConcurrentCalls: 2 } });
  const c = await connect(t, url);
  const first = c.call("Slow.Sleep", 300);
  const second = c.call("Slow.Sleep", 300);
  const third = rejection(c.call("Slow.Sleep", 300), "third");
  const other = await connect(t, url);
  t.equal(await other.call("Arith.Multiply", { A: 2, B: 2 }), 4, "the limit is per connection");
  const err = await third;
  t.ok(err instanceof RpcError);
  t.equal(err.code, Code.RESOURCE_EXHAUSTED);
  t.equal(err.fromPeer, true);
  t.match(err.message, /maxConcurrentCalls 2/);
  t.equal(await first, 300);
  t.equal(await second, 300);
  t.equal(await c.call("Slow.Sleep", 1), 1, "room again once calls end");
});
