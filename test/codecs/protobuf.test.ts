// The protobuf codec through its sessions: envelopes byte for byte, payload policies, descriptors, hostile bytes.
import t from "tap";
import { protobuf, parseProto, loadRoot, methodTypes, serviceMethods, ENVELOPE_PROTO } from "../../codecs/protobuf/index.js";
import { Code } from "../../core/codes.js";
import { RpcError } from "../../core/errors.js";
import type { ProtobufSession } from "../../codecs/protobuf/index.js";
import type { ResponseEnvelope, ServerInbound } from "../../core/envelope.js";

const USER_PROTO = "examples/user/user.proto";

const TEST_PROTO = `syntax = "proto3";
package t;
enum Color { RED = 0; GREEN = 1; BLUE = 2; }
message Address { string city = 1; uint32 zip = 2; }
message Everything {
  int64 big = 1;
  uint64 ubig = 2;
  sint64 sbig = 3;
  Color color = 4;
  bytes blob = 5;
  repeated string tags = 6;
  repeated int64 bigs = 7;
  map<string, Address> places = 8;
  map<int32, int64> counts = 9;
  Address home = 10;
  repeated Address past = 11;
  optional string nick = 12;
  oneof contact { string email = 13; string phone = 14; }
  double score = 15;
  bool active = 16;
  int32 small = 17;
  string user_name = 18;
}
message Empty {}
service Things {
  rpc Put(Everything) returns (Everything);
  rpc Nothing(Empty) returns (Empty);
  rpc Upload(stream Empty) returns (Empty);
  rpc Watch(Empty) returns (stream Empty);
}`;

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const ascii = (s: string) => Buffer.from(s, "latin1").toString("hex");

/** A client session and a server session of the same codec, as two ends of one connection. */
function pair(options: Parameters<typeof protobuf>[0] = { proto: USER_PROTO }) {
  const codec = protobuf(options);
  return { codec, client: codec.fork(), server: codec.fork() };
}

/** A call all the way round: client encode -> server decode -> server encode -> client decode. */
function roundTrip(client: ProtobufSession, server: ProtobufSession, method: string, params: unknown, result?: (p: unknown) => unknown) {
  const reqBytes = client.encodeRequest({ kind: "request", id: 7, method, params });
  const req = server.decodeRequest(reqBytes);
  if (req.kind !== "request") throw new Error(`expected a request, got ${JSON.stringify(req)}`);
  const out = result ? result(req.params) : req.params;
  const res = client.decodeResponse(server.encodeResponse({ kind: "response", id: 7, result: out }));
  if (res.kind !== "response") throw new Error(`expected a response, got ${JSON.stringify(res)}`);
  return { req, res };
}

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

function rejects(t: TapTest, fn: () => unknown, code: Code, message: RegExp, what: string) {
  try {
    fn();
    t.fail(`${what}: did not throw`);
  } catch (err) {
    t.ok(err instanceof RpcError, `${what}: an RpcError`);
    t.equal((err as RpcError).code, code, `${what}: ${Code[code]}`);
    t.match((err as RpcError).message, message, what);
  }
}

t.test("GetUser, byte for byte", async (t) => {
  const { client, server } = pair();
  const reqBytes = client.encodeRequest({ kind: "request", id: 1, method: "user.User.GetUser", params: { id: "1" } });
  // 08 01: id = 1 | 12 11 "user.User.GetUser": method (17 bytes) | 2a 03 (0a 01 "1"): payload = GetUserReq{id:"1"}
  t.equal(hex(reqBytes), "0801" + "1211" + ascii("user.User.GetUser") + "2a03" + "0a0131");
  t.equal(reqBytes.length, 26);

  const req = server.decodeRequest(reqBytes);
  t.same(req, { kind: "request", id: 1, method: "user.User.GetUser", params: { id: "1" }, timeout: undefined, metadata: undefined });

  const resBytes = server.encodeResponse({ kind: "response", id: 1, result: { id: "1", name: "bala", phone: "13100001111" } });
  // The response envelope's exact size, from the encoding rules (every tag and length fits one byte):
  //   payload GetUserResp: id "1"    = tag 0a + len 01 + 1 byte    =  3
  //                        name "bala" = tag 12 + len 04 + 4 bytes  =  6
  //                        phone "13100001111" = 1a + 0b + 11 bytes = 13   -> 22 bytes
  //   envelope Response:   id 1 = tag 08 + varint 01               =  2
  //                        code 0, message "" = proto3 defaults     =  0 (left off)
  //                        payload = tag 22 + len 16 (22) + 22      = 24
  //                        connection_error false                   =  0 (left off)  -> 26 bytes
  // plus the LengthFramer's 4-byte prefix on the wire: 30.
  t.equal(resBytes.length, 26);
  t.equal(hex(resBytes), "0801" + "2216" + "0a0131" + "1204" + ascii("bala") + "1a0b" + ascii("13100001111"));
  t.equal(server.createFramer(1024).frame(resBytes).length, 30);
  t.same(client.decodeResponse(resBytes), { kind: "response", id: 1, result: { id: "1", name: "bala", phone: "13100001111" } });
});

t.test("id 0 (our client's first call) is a real id: left off as a proto3 default, never mistaken for a connection error", async (t) => {
  const { client, server } = pair();
  const reqBytes = client.encodeRequest({ kind: "request", id: 0, method: "user.User.GetUser", params: { id: "2" } });
  t.equal(hex(reqBytes).slice(0, 4), "1211", "no id field at all");
  const req = server.decodeRequest(reqBytes);
  t.equal(req.kind === "request" && req.id, 0);
  const resBytes = server.encodeResponse({ kind: "response", id: 0, result: { id: "2", name: "小王" } });
  t.same(client.decodeResponse(resBytes), { kind: "response", id: 0, result: { id: "2", name: "小王", phone: "" } });
});

t.test("cancel, error and connection-error envelopes", async (t) => {
  const { client, server } = pair();
  const cancel = client.encodeCancel(5);
  t.equal(hex(cancel), "0805" + "3001", "Request{id: 5, cancel: true}");
  t.same(server.decodeRequest(cancel), { kind: "cancel", id: 5 });
  t.equal(hex(client.encodeCancel(0)), "3001");
  t.same(server.decodeRequest(client.encodeCancel(0)), { kind: "cancel", id: 0 });

  const err = server.encodeResponse({ kind: "response", id: 3, error: { code: Code.NOT_FOUND, message: "user not found" } });
  t.equal(hex(err), "0803" + "1005" + "1a0e" + ascii("user not found"));
  t.same(client.decodeResponse(err), { kind: "response", id: 3, error: { code: Code.NOT_FOUND, message: "user not found" } });

  const last = server.encodeResponse({ kind: "response", id: null, error: { code: Code.INVALID_ARGUMENT, message: "rpc: bye" } });
  t.equal(hex(last), "1003" + "1a08" + ascii("rpc: bye") + "2801", "Response{code, message, connection_error: true}, no id");
  t.same(client.decodeResponse(last), { kind: "response", id: null, error: { code: Code.INVALID_ARGUMENT, message: "rpc: bye" } });

  // An error never goes out as code 0 or with an empty text.
  const odd = client.decodeResponse(server.encodeResponse({ kind: "response", id: 4, error: { code: Code.OK, message: "" } }));
  t.same(odd, { kind: "response", id: 4, error: { code: Code.UNKNOWN, message: "unspecified error" } });
  // An unknown code from a peer reads as UNKNOWN.
  t.same(client.decodeResponse(Uint8Array.from([0x08, 0x04, 0x10, 0x63])), { kind: "response", id: 4, error: { code: Code.UNKNOWN, message: "" } });
});

t.test("the hand-written envelope is ENVELOPE_PROTO, as any protobuf library reads and writes it", async (t) => {
  const root = parseProto(ENVELOPE_PROTO);
  const Request = root.lookupType("netrpc.Request");
  const Response = root.lookupType("netrpc.Response");
  const { client, server } = pair();
  const ours = client.encodeRequest({
    kind: "request", id: 2 ** 40, method: "user.User.GetUser", params: { id: "9" }, timeout: 0,
    metadata: { tenant: "acme", tag: ["a", "b"], one: ["x"], none: [] },
  });
  const theirs = Request.encode(Request.fromObject({
    id: 2 ** 40, method: "user.User.GetUser", timeout_ms: 0,
    metadata: [{ key: "tenant", values: ["acme"] }, { key: "tag", values: ["a", "b"], list: true }, { key: "one", values: ["x"], list: true }, { key: "none", values: [], list: true }],
    payload: Uint8Array.from([0x0a, 0x01, 0x39]),
  })).finish();
  t.equal(hex(ours), hex(theirs), "byte-identical to protobufjs's encoding of the schema");
  t.same(Request.toObject(Request.decode(ours), { longs: Number, arrays: true }), {
    id: 2 ** 40, method: "user.User.GetUser", timeout_ms: 0,
    metadata: [{ key: "tenant", values: ["acme"] }, { key: "tag", values: ["a", "b"], list: true }, { key: "one", values: ["x"], list: true }, { key: "none", values: [], list: true }],
    payload: Buffer.from([0x0a, 0x01, 0x39]),
  });
  t.same(server.decodeRequest(theirs), {
    kind: "request", id: 2 ** 40, method: "user.User.GetUser", params: { id: "9" }, timeout: 0,
    metadata: { tenant: "acme", tag: ["a", "b"], one: ["x"], none: [] },
  });

  const res = Response.encode(Response.fromObject({ id: 2 ** 40, payload: Uint8Array.from([0x12, 0x01, 0x62]) })).finish();
  t.same(client.decodeResponse(res), { kind: "response", id: 2 ** 40, result: { id: "", name: "b", phone: "" } });
  t.equal(hex(server.encodeResponse({ kind: "response", id: 2 ** 40, result: { name: "b" } })), hex(res));
  const conn = Response.encode(Response.fromObject({ code: 8, message: "too big", connection_error: true })).finish();
  t.same(client.decodeResponse(conn), { kind: "response", id: null, error: { code: 8, message: "too big" } });

  // Fields a later version may add are skipped; the same field twice: the last one wins (proto3).
  const extra = Buffer.concat([Buffer.from(theirs), Buffer.from([0xa0, 0x06, 0x01, 0x08, 0x03])]); // field 100 varint, then id = 3
  const seen = server.decodeRequest(extra);
  t.equal(seen.kind === "request" && seen.id, 3);
});

t.test("timeout and metadata", async (t) => {
  const { client, server } = pair();
  const send = (extra: object) => server.decodeRequest(client.encodeRequest({ kind: "request", id: 1, method: "user.User.GetUser", params: {}, ...extra }));
  t.match(send({ timeout: 0 }), { timeout: 0 }, "0 ms is a deadline, not an absent one");
  t.match(send({ timeout: 2.2 }), { timeout: 3 }, "rounded up");
  t.match(send({ timeout: 1e12 }), { timeout: 0xffffffff }, "capped at uint32");
  t.equal((send({}) as { timeout?: number }).timeout, undefined);
  const md = (send({ metadata: { tenant: "acme", tag: ["a", "b"], one: ["x"], none: [] } }) as { metadata: object }).metadata;
  t.same(md, { tenant: "acme", tag: ["a", "b"], one: ["x"], none: [] }, "strings stay strings, arrays stay arrays, even of one or none");
  t.equal(Object.getPrototypeOf(md), null);
  t.equal((send({ metadata: {} }) as { metadata?: object }).metadata, undefined);

  rejects(t, () => client.encodeRequest({ kind: "request", id: 1, method: "user.User.GetUser", params: {}, metadata: { "Bad Key": "x" } }),
    Code.INVALID_ARGUMENT, /^rpc: metadata key "Bad Key" must match/, "a bad key at encode");
  rejects(t, () => client.encodeRequest({ kind: "request", id: 1, method: "user.User.GetUser", params: {}, metadata: { k: [1] as unknown as string[] } }),
    Code.INVALID_ARGUMENT, /^rpc: metadata value of k/, "a bad value at encode");
  rejects(t, () => client.encodeRequest({ kind: "request", id: 1, method: "user.User.GetUser", params: {}, timeout: -1 }),
    Code.INVALID_ARGUMENT, /^rpc: protobuf: timeout/, "a negative timeout");

  // From the wire: keys are checked (the call is answered), and a repeated key appends.
  const Request = parseProto(ENVELOPE_PROTO).lookupType("netrpc.Request");
  const frame = (metadata: object[]) => Request.encode(Request.fromObject({ id: 9, method: "user.User.GetUser", metadata })).finish();
  t.same(server.decodeRequest(frame([{ key: "Upper", values: ["x"] }])), {
    kind: "invalid", id: 9, error: { code: Code.INVALID_ARGUMENT, message: 'rpc: metadata key "Upper" must match [0-9a-z_.-]+' },
  });
  t.same(server.decodeRequest(frame([{ key: "__proto__", values: ["x"] }, { key: "", values: [] }])), {
    kind: "invalid", id: 9, error: { code: Code.INVALID_ARGUMENT, message: 'rpc: metadata key "" must match [0-9a-z_.-]+' },
  });
  t.match(server.decodeRequest(frame([{ key: "a", values: ["1"] }, { key: "a", values: ["2", "3"] }])), { metadata: { a: ["1", "2", "3"] } });
  const proto = server.decodeRequest(frame([{ key: "__proto__", values: ["x"] }])) as { metadata: Record<string, unknown> };
  t.same(Object.keys(proto.metadata), ["__proto__"], "__proto__ is just a key");
  t.equal(({} as Record<string, unknown>).x, undefined, "nothing polluted");
});

t.test("payload policies: int64, enums, defaults, bytes, repeated, maps, nested, oneof, optional", async (t) => {
  const root = parseProto(TEST_PROTO);
  const { client, server } = pair({ root });
  const everything = {
    big: "-9223372036854775808", ubig: 18446744073709551615n, sbig: -5, color: "GREEN",
    blob: Uint8Array.from([0, 1, 255]), tags: ["a", "b"], bigs: ["1", 2n, 3],
    places: { home: { city: "Hangzhou", zip: 310000 } }, counts: { "7": "9007199254740993" },
    home: { city: "Beijing" }, past: [{ zip: 1 }, {}], nick: "", email: "b@x", score: 0.5, active: true, small: -1,
    user_name: "bala",
  };
  const { req, res } = roundTrip(client, server, "t.Things.Put", everything);
  const expected = {
    big: "-9223372036854775808", ubig: "18446744073709551615", sbig: "-5", color: "GREEN",
    blob: Buffer.from([0, 1, 255]), tags: ["a", "b"], bigs: ["1", "2", "3"],
    places: { home: { city: "Hangzhou", zip: 310000 } }, counts: { "7": "9007199254740993" },
    home: { city: "Beijing", zip: 0 }, past: [{ city: "", zip: 1 }, { city: "", zip: 0 }],
    nick: "", email: "b@x", contact: "email", score: 0.5, active: true, small: -1, user_name: "bala",
  };
  t.same(req.kind === "request" && req.params, expected, "int64s as exact strings, enums as names, defaults filled in");
  t.strictSame(res, { kind: "response", id: 7, result: expected });
  const params = (req as { params: Record<string, unknown> }).params;
  t.ok(params.blob instanceof Uint8Array, "bytes arrive as Uint8Array");
  t.notOk("_nick" in params, "no synthetic oneof key for a proto3 optional field");

  // Nothing set: every field at its default; unset messages are null, unset optional/oneof members absent.
  const empty = roundTrip(client, server, "t.Things.Put", {}).res;
  t.strictSame(empty, {
    kind: "response", id: 7, result: {
      big: "0", ubig: "0", sbig: "0", color: "RED", blob: Buffer.alloc(0), tags: [], bigs: [], places: {}, counts: {},
      home: null, past: [], score: 0, active: false, small: 0, user_name: "",
    },
  });

  // Enums: a number is accepted on the way in; one the .proto does not name comes out as the number.
  t.match(roundTrip(client, server, "t.Things.Put", { color: 2 }).res, { result: { color: "BLUE" } });
  rejects(t, () => client.encodeRequest({ kind: "request", id: 1, method: "t.Things.Put", params: { color: 9 } }),
    Code.INVALID_ARGUMENT, /color: t\.Color name or number expected \(RED, GREEN, BLUE\), got 9/, "a number the enum does not name");
  server.decodeRequest(client.encodeRequest({ kind: "request", id: 8, method: "t.Things.Put", params: {} }));
  const newer = Uint8Array.from([0x08, 0x08, 0x22, 0x02, 0x20, 0x09]); // Response{id: 8, payload: Everything{color: 9}}
  client.encodeRequest({ kind: "request", id: 8, method: "t.Things.Put", params: {} });
  t.match(client.decodeResponse(newer), { result: { color: 9 } }, "a number from a newer .proto comes out as the number");
  // lowerCamelCase keys are accepted for snake_case fields; results use the .proto's names.
  t.match(roundTrip(client, server, "t.Things.Put", { userName: "x" }).res, { result: { user_name: "x" } });
  // bytes may be given as base64.
  t.match(roundTrip(client, server, "t.Things.Put", { blob: "AAH/" }).res, { result: { blob: Buffer.from([0, 1, 255]) } });
  // A message instance from protobufjs itself is accepted.
  const Everything = root.lookupType("t.Everything");
  t.match(roundTrip(client, server, "t.Things.Put", Everything.fromObject({ big: "12", color: "BLUE" })).res, { result: { big: "12", color: "BLUE" } });
});

t.test("longs: bigint and number", async (t) => {
  const root = parseProto(TEST_PROTO);
  for (const [longs, big, ubig, bigs, counts] of [
    ["bigint", -9223372036854775808n, 9007199254740993n, [1n, 2n], { "7": 9007199254740993n }],
    ["number", -9223372036854775808, 9007199254740992, [1, 2], { "7": 9007199254740992 }],
  ] as const) {
    const { client, server } = pair({ root, longs });
    const { req, res } = roundTrip(client, server, "t.Things.Put", { big: "-9223372036854775808", ubig: "9007199254740993", bigs: [1, "2"], counts: { "7": "9007199254740993" }, past: [{}] });
    t.match(req, { params: { big, ubig, bigs, counts, sbig: longs === "bigint" ? 0n : 0 } }, `${longs}: server params`);
    t.match(res, { result: { big, ubig, bigs, counts } }, `${longs}: client result`);
    t.equal(typeof (res.result as { big: unknown }).big, longs);
  }
  t.throws(() => protobuf({ root, longs: "long" as "string" }), TypeError);
});

t.test("void results and empty messages", async (t) => {
  const { client, server } = pair({ root: parseProto(TEST_PROTO) });
  for (const result of [undefined, null]) {
    const { res } = roundTrip(client, server, "t.Things.Nothing", {}, () => result);
    t.strictSame(res, { kind: "response", id: 7, result: {} }, `${result}: an empty payload, read as the response type's default object`);
  }
  const user = pair();
  t.strictSame(roundTrip(user.client, user.server, "user.User.GetUser", undefined, () => undefined).res,
    { kind: "response", id: 7, result: { id: "", name: "", phone: "" } }, "undefined as a GetUserResp: its defaults");
  const bytes = client.encodeRequest({ kind: "request", id: 1, method: "t.Things.Nothing", params: undefined });
  t.equal(hex(bytes), "0801" + "1210" + ascii("t.Things.Nothing"), "an empty payload is left off");
  server.decodeRequest(bytes);
  t.equal(hex(server.encodeResponse({ kind: "response", id: 1, result: undefined })), "0801", "a void result is just the id");
});

t.test("streaming envelopes: messages, half-close and credit, as ENVELOPE_PROTO reads them", async (t) => {
  const { client, server } = pair({ root: parseProto(TEST_PROTO) });
  const envelope = parseProto(ENVELOPE_PROTO);
  const Request = envelope.lookupType("netrpc.Request");
  const Response = envelope.lookupType("netrpc.Response");
  const asObject = (type: typeof Request, bytes: Uint8Array) => type.toObject(type.decode(bytes), { longs: Number });

  // Client stream: the request opens the call, messages follow, then the half-close.
  const open = client.encodeRequest({ kind: "request", id: 3, method: "t.Things.Upload", params: undefined, stream: true });
  t.same(asObject(Request, open), { id: 3, method: "t.Things.Upload", stream: true }, "stream = 7 on the opening request, no payload");
  t.same(server.decodeRequest(open), { kind: "request", id: 3, method: "t.Things.Upload", params: undefined, timeout: undefined, metadata: undefined, stream: true });
  const message = client.encodeMessage(3, "t.Things.Upload", {}, true);
  t.same(asObject(Request, message), { id: 3, streamed: true }, "streamed = 8");
  t.same(server.decodeRequest(message), { kind: "message", id: 3, payload: {} });
  t.same(asObject(Request, client.encodeEnd(3)), { id: 3, end: true }, "end = 9");
  t.same(server.decodeRequest(client.encodeEnd(3)), { kind: "end", id: 3 });
  const serverCredit = server.encodeCredit(3, 8);
  t.same(asObject(Response, serverCredit), { id: 3, credit: 8 }, "the server grants requests in a Response (credit = 7)");
  t.same(client.decodeResponse(serverCredit), { kind: "credit", id: 3, credit: 8 });
  const clientCredit = client.encodeCredit(3, 8);
  t.same(asObject(Request, clientCredit), { id: 3, credit: 8 }, "the client grants replies in a Request (credit = 10)");
  t.same(server.decodeRequest(clientCredit), { kind: "credit", id: 3, credit: 8 });

  // Server stream: replies are Responses with streamed = 6; the outcome ends the call.
  t.same(server.decodeRequest(client.encodeRequest({ kind: "request", id: 4, method: "t.Things.Watch", params: {} })), { kind: "request", id: 4, method: "t.Things.Watch", params: {}, timeout: undefined, metadata: undefined });
  const reply = server.encodeMessage(4, "t.Things.Watch", {}, false);
  t.same(asObject(Response, reply), { id: 4, streamed: true }, "streamed = 6");
  t.same(client.decodeResponse(reply), { kind: "message", id: 4, payload: {} });
  t.same(client.decodeResponse(server.encodeResponse({ kind: "response", id: 4, result: undefined })), { kind: "response", id: 4, result: undefined }, "a server stream's final Response is its status only");
  rejects(t, () => server.encodeMessage(99, "t.Things.Watch", {}, false), Code.INTERNAL, /^rpc: protobuf: no call 99/, "a reply for no open call");
  rejects(t, () => client.encodeMessage(4, "t.Things.Watch", {}, true), Code.INTERNAL, /^rpc: protobuf: no call 4 /, "a request for a call that has ended");
  client.encodeRequest({ kind: "request", id: 5, method: "t.Things.Upload", params: undefined, stream: true });
  rejects(t, () => client.encodeMessage(5, "t.Things.Upload", { nope: 1 }, true), Code.INVALID_ARGUMENT, /^rpc: protobuf: bad request for t\.Things\.Upload: /, "a request that does not fit its type");
  t.same(client.decodeResponse(Response.encode({ id: 77, streamed: true }).finish()), { kind: "message", id: 77, payload: undefined }, "a reply for a call we dropped: nothing to decode it as");

  // Keepalive: a ping is a Request with ping = 11, its answer a Response with pong = 8.
  const ping = client.encodePing(9, false);
  t.same(asObject(Request, ping), { id: 9, ping: true }, "ping = 11");
  t.same(server.decodeRequest(ping), { kind: "ping", id: 9 });
  const pong = server.encodePing(9, true);
  t.same(asObject(Response, pong), { id: 9, pong: true }, "pong = 8");
  t.same(client.decodeResponse(pong), { kind: "pong", id: 9 });
});

t.test("unknown methods", async (t) => {
  const { client, server } = pair();
  rejects(t, () => client.encodeRequest({ kind: "request", id: 1, method: "user.User.Nope", params: {} }),
    Code.UNIMPLEMENTED, /^rpc: protobuf: no descriptor for method user\.User\.Nope \(hint: load its \.proto/, "client encode");

  // A client that knows more than the server: the server answers the id.
  const richer = protobuf({ proto: USER_PROTO, root: parseProto(TEST_PROTO) }).fork();
  const frame = richer.encodeRequest({ kind: "request", id: 12, method: "t.Things.Nothing", params: {} });
  t.same(server.decodeRequest(frame), { kind: "invalid", id: 12, error: { code: Code.UNIMPLEMENTED, message: "rpc: protobuf: no descriptor for method t.Things.Nothing" } });
  t.same(server.decodeRequest(Uint8Array.from([0x08, 0x02])), { kind: "invalid", id: 2, error: { code: Code.INVALID_ARGUMENT, message: "rpc: request has no method" } });

  const Request = parseProto(ENVELOPE_PROTO).lookupType("netrpc.Request");
  // Names from the wire are map keys, never lookup paths.
  for (const name of ["__proto__", "constructor", ".user.User.GetUser", "user.User", "user", "toString.call"]) {
    t.match(server.decodeRequest(Request.encode({ id: 4, method: name }).finish()), { kind: "invalid", error: { code: Code.UNIMPLEMENTED } }, name);
  }
});

t.test("params and results that do not fit their types", async (t) => {
  const { client, server } = pair({ root: parseProto(TEST_PROTO) });
  const put = (params: unknown) => () => client.encodeRequest({ kind: "request", id: 1, method: "t.Things.Put", params });
  rejects(t, put({ Big: "1" }), Code.INVALID_ARGUMENT, /^rpc: protobuf: bad params for t\.Things\.Put: Big: no such field in t\.Everything/, "an unknown key");
  rejects(t, put({ big: "1.5" }), Code.INVALID_ARGUMENT, /big: int64 .* expected, got "1\.5"/, "a non-integer int64");
  rejects(t, put({ ubig: -1 }), Code.INVALID_ARGUMENT, /ubig: uint64/, "a negative uint64");
  rejects(t, put({ big: 2n ** 63n }), Code.INVALID_ARGUMENT, /big: int64/, "int64 overflow");
  rejects(t, put({ small: 2 ** 31 }), Code.INVALID_ARGUMENT, /small: int32/, "int32 overflow");
  rejects(t, put({ color: "PURPLE" }), Code.INVALID_ARGUMENT, /color: t\.Color name or number expected \(RED, GREEN, BLUE\), got "PURPLE"/, "an unknown enum name");
  rejects(t, put({ home: { city: 5 } }), Code.INVALID_ARGUMENT, /home\.city: string expected, got 5/, "a nested field");
  rejects(t, put({ past: [{}, { zip: "x" }] }), Code.INVALID_ARGUMENT, /past\.1\.zip: uint32/, "an element of a repeated field");
  rejects(t, put({ tags: "a" }), Code.INVALID_ARGUMENT, /tags: array expected/, "a repeated field given a string");
  rejects(t, put({ counts: { x: 1 } }), Code.INVALID_ARGUMENT, /counts\.x: map key must be a int32/, "a map key");
  rejects(t, put({ email: "a", phone: "b" }), Code.INVALID_ARGUMENT, /contact: multiple values/, "two members of a oneof (protobufjs verify)");
  rejects(t, put({ counts: { "007": 1 } }), Code.INVALID_ARGUMENT, /counts: integer key\{k:int32\} expected/, "a map key with leading zeros (protobufjs verify)");
  rejects(t, put({ home: "x" }), Code.INVALID_ARGUMENT, /home: t\.Address object expected/, "a message given a string");
  rejects(t, put({ userName: "a", user_name: "b" }), Code.INVALID_ARGUMENT, /given twice/, "both spellings");
  rejects(t, put(42), Code.INVALID_ARGUMENT, /\(message\): t\.Everything object expected, got 42/, "params not an object");
  const cyclic: Record<string, unknown> = {};
  cyclic.home = cyclic;
  rejects(t, put({ past: [cyclic] }), Code.INVALID_ARGUMENT, /no such field|nested deeper/, "a cycle");
  rejects(t, () => client.encodeRequest({ kind: "request", id: "abc", method: "t.Things.Put", params: {} }),
    Code.INVALID_ARGUMENT, /^rpc: protobuf: call ids must be integers from 0 to 2\^53-1, got "abc"/, "a string id");
  rejects(t, () => client.encodeCancel("abc"), Code.INVALID_ARGUMENT, /call ids/, "a string id in a cancel");
  rejects(t, () => client.encodeRequest({ kind: "request", id: -1, method: "t.Things.Put", params: {} }), Code.INVALID_ARGUMENT, /call ids/, "a negative id");

  // A result that does not fit is the server's fault: INTERNAL, and the call can still be answered.
  server.decodeRequest(client.encodeRequest({ kind: "request", id: 3, method: "t.Things.Put", params: {} }));
  rejects(t, () => server.encodeResponse({ kind: "response", id: 3, result: { Id: "1" } }),
    Code.INTERNAL, /^rpc: protobuf: cannot encode the result of t\.Things\.Put: Id: no such field/, "a bad result");
  rejects(t, () => server.encodeResponse({ kind: "response", id: 3, result: 56 }), Code.INTERNAL, /object expected, got 56/, "a number result");
  const answer = server.encodeResponse({ kind: "response", id: 3, error: { code: Code.INTERNAL, message: "x" } });
  t.match(client.decodeResponse(answer), { id: 3, error: { code: Code.INTERNAL } });
  rejects(t, () => server.encodeResponse({ kind: "response", id: 3, result: {} }), Code.INTERNAL, /no call 3 is awaiting a result/, "answered once");
});

t.test("params checks: compiled per type, and the plain loop for a field named like an Object.prototype key", async (t) => {
  const proto = `syntax = "proto3"; package k;
    message Odd { string constructor = 1; string user_name = 2; int32 n = 3; }
    message Plain { string constructor_ = 1; string user_name = 2; int32 n = 3; }
    service S { rpc Odd(Odd) returns (Odd); rpc Plain(Plain) returns (Plain); }`;
  const { client, server } = pair({ root: parseProto(proto) });
  for (const [method, first] of [["k.S.Odd", "constructor"], ["k.S.Plain", "constructor_"]] as const) {
    const { res } = roundTrip(client, server, method, { [first]: "c", userName: "u", n: 5 });
    t.same(res, { kind: "response", id: 7, result: { [first]: "c", user_name: "u", n: 5 } }, `${method}: round trip`);
    const put = (params: unknown) => () => client.encodeRequest({ kind: "request", id: 1, method, params });
    rejects(t, put({ [first]: 5 }), Code.INVALID_ARGUMENT, new RegExp(`: ${first}: string expected, got 5$`), `${method}: a wrong type`);
    rejects(t, put({ userName: "a", user_name: "b" }), Code.INVALID_ARGUMENT, /: user_name: field user_name given twice$/, `${method}: both spellings`);
    rejects(t, put({ n: 1.5 }), Code.INVALID_ARGUMENT, /: n: int32 \(an integer from -2147483648 to 2147483647\) expected, got 1\.5$/, `${method}: an int32`);
    rejects(t, put({ toString: "x" }), Code.INVALID_ARGUMENT, /: toString: no such field in k\.(Odd|Plain)/, `${method}: an unknown key`);
    t.same(client.encodeRequest({ kind: "request", id: 1, method, params: { [first]: null, n: undefined } }).length > 0, true, `${method}: null and undefined are unset`);
  }
});

t.test("session bookkeeping: cancels, late replies, duplicate ids", async (t) => {
  const { client, server } = pair();
  const call = (id: number) => server.decodeRequest(client.encodeRequest({ kind: "request", id, method: "user.User.GetUser", params: { id: "1" } }));
  const ok = (id: number) => server.encodeResponse({ kind: "response", id, result: { id: "1" } });

  // The client gave up on call 1; the server had already answered. The late reply is dropped by the client.
  call(1);
  const late = ok(1);
  client.encodeCancel(1);
  t.same(client.decodeResponse(late), { kind: "response", id: 1, result: undefined });

  // A cancel forgets the call on the server too.
  call(2);
  server.decodeRequest(client.encodeCancel(2));
  t.throws(() => ok(2), { code: Code.INTERNAL });

  // A duplicate id while the first is in flight: its error reply leaves the first call's entry.
  call(3);
  call(3);
  server.encodeResponse({ kind: "response", id: 3, error: { code: Code.INVALID_ARGUMENT, message: "rpc: call id 3 is already in flight" } });
  t.same(client.decodeResponse(ok(3)), { kind: "response", id: 3, result: { id: "1", name: "", phone: "" } });
});

t.test("a server session reads method names by their bytes: reused only when byte for byte the same", async (t) => {
  const { server } = pair({ root: [loadRoot(USER_PROTO), parseProto(TEST_PROTO)] });
  const Request = parseProto(ENVELOPE_PROTO).lookupType("netrpc.Request");
  // Hand-built frames: the method as raw bytes, the payload before or after it.
  const frame = (id: number, method: Uint8Array, payloadFirst = false) => {
    const payload = Uint8Array.from([0x0a, 0x01, 0x31]); // GetUserReq{ id: "1" }
    const head = [0x08, id, 0x12, method.length, ...method];
    const body = [0x2a, payload.length, ...payload];
    return Buffer.from(payloadFirst ? [0x08, id, ...body, 0x12, method.length, ...method] : [...head, ...body]);
  };
  const name = (s: string) => Buffer.from(s, "latin1");
  const get = "user.User.GetUser";
  t.match(server.decodeRequest(frame(1, name(get))), { kind: "request", id: 1, method: get, params: { id: "1" } });
  t.match(server.decodeRequest(frame(2, name(get), true)), { kind: "request", id: 2, method: get, params: { id: "1" } }, "payload before the method");
  // Same length, one byte apart: not the cached name.
  t.match(server.decodeRequest(frame(3, name("user.User.GetUses"))), { kind: "invalid", id: 3, error: { message: "rpc: protobuf: no descriptor for method user.User.GetUses" } });
  // Invalid UTF-8 reads as U+FFFD, the first time and when it comes from the cache.
  for (const id of [4, 5]) {
    t.match(server.decodeRequest(frame(id, Uint8Array.from([...name("user.User.GetUse"), 0xff]))), { kind: "invalid", id, error: { message: "rpc: protobuf: no descriptor for method user.User.GetUse\ufffd" } });
  }
  // More distinct names than the cache holds, then the first again, each as decoding gives it.
  for (let i = 0; i < 20; i++) t.match(server.decodeRequest(frame(10 + i, name(`m${i}`))), { kind: "invalid", error: { message: `rpc: protobuf: no descriptor for method m${i}` } });
  t.match(server.decodeRequest(frame(40, name(get))), { kind: "request", id: 40, method: get });
  t.match(server.decodeRequest(frame(41, name("小王"))), { kind: "invalid" });
  t.match(server.decodeRequest(Request.encode({ id: 42, method: "小王" }).finish()), { kind: "invalid", error: { message: "rpc: protobuf: no descriptor for method 小王" } });
  t.match(server.decodeRequest(Request.encode({ id: 43, method: "t.Things.Nothing" }).finish()), { kind: "request", id: 43, method: "t.Things.Nothing", params: {} });
  t.match(server.decodeRequest(frame(44, name(get))), { kind: "request", id: 44, method: get, params: { id: "1" } });
});

t.test("an id sent three times is owed three replies; the call keeps its entry until the last", async (t) => {
  const { client, server } = pair();
  const call = () => server.decodeRequest(client.encodeRequest({ kind: "request", id: 5, method: "user.User.GetUser", params: { id: "1" } }));
  call();
  call();
  call();
  const refuse = () => server.encodeResponse({ kind: "response", id: 5, error: { code: Code.INVALID_ARGUMENT, message: "rpc: call id 5 is already in flight" } });
  refuse();
  refuse();
  t.same(client.decodeResponse(server.encodeResponse({ kind: "response", id: 5, result: { id: "1" } })), { kind: "response", id: 5, result: { id: "1", name: "", phone: "" } });
  t.throws(() => server.encodeResponse({ kind: "response", id: 5, result: { id: "1" } }), { code: Code.INTERNAL }, "answered");
});

t.test("a response payload that does not decode fails only its call", async (t) => {
  const { client } = pair();
  client.encodeRequest({ kind: "request", id: 1, method: "user.User.GetUser", params: {} });
  const res = client.decodeResponse(Uint8Array.from([0x08, 0x01, 0x22, 0x02, 0x0a, 0x05]));
  t.match(res, { kind: "response", id: 1, error: { code: Code.INTERNAL, message: /^rpc: malformed protobuf message: user\.GetUserResp: / } });
});

t.test("malformed frames: nothing but RpcError, and a readable id is answered", async (t) => {
  const { client, server } = pair({ root: [loadRoot(USER_PROTO), parseProto(TEST_PROTO)] });
  // Valid frames of every kind, to truncate and corrupt.
  const requests = [
    client.encodeRequest({ kind: "request", id: 300, method: "user.User.GetUser", params: { id: "1" }, timeout: 5, metadata: { a: ["b", "c"] } }),
    client.encodeRequest({ kind: "request", id: 2 ** 50, method: "t.Things.Put", params: { big: "1", places: { x: { city: "y" } }, past: [{ zip: 3 }], blob: Uint8Array.of(1) } }),
    client.encodeCancel(70000),
  ];
  const responses = [
    server.encodeResponse({ kind: "response", id: null, error: { code: Code.INTERNAL, message: "bye" } }),
    server.encodeResponse({ kind: "response", id: 9, error: { code: Code.NOT_FOUND, message: "nope" } }),
  ];
  server.decodeRequest(requests[0]!);
  responses.push(server.encodeResponse({ kind: "response", id: 300, result: { id: "1", name: "bala" } }));

  let answered = 0;
  let refused = 0;
  const feed = (frame: Uint8Array, what: string) => {
    // Sockets deliver Buffers, which protobufjs reads with its BufferReader: try both kinds.
    if (!Buffer.isBuffer(frame)) feed(Buffer.from(frame), `${what} (Buffer)`);
    try {
      const inbound: ServerInbound = server.decodeRequest(frame);
      if (inbound.kind === "invalid") {
        answered++;
        if (!(Number.isSafeInteger(inbound.id) && typeof inbound.error.message === "string" && inbound.error.message.startsWith("rpc:"))) t.fail(`${what}: bad invalid ${JSON.stringify(inbound)}`);
      }
    } catch (err) {
      refused++;
      if (!(err instanceof RpcError) || !err.message.startsWith("rpc: ")) t.fail(`${what}: decodeRequest threw ${String(err)}`);
    }
    try {
      const res = client.decodeResponse(frame);
      if (res.kind === "response" && res.error && !isFinite(res.error.code)) t.fail(`${what}: bad error code`);
    } catch (err) {
      if (!(err instanceof RpcError) || !err.message.startsWith("rpc: ")) t.fail(`${what}: decodeResponse threw ${String(err)}`);
    }
  };

  for (const frame of [...requests, ...responses]) {
    for (let n = 0; n < frame.length; n++) feed(frame.subarray(0, n), `truncated to ${n}`);
    for (let i = 0; i < frame.length; i++) {
      for (const b of [0x00, 0x7f, 0x80, 0xff, frame[i]! ^ 0x07]) {
        const bad = Uint8Array.from(frame);
        bad[i] = b;
        feed(bad, `byte ${i} set to ${b}`);
      }
    }
  }
  // Seeded random buffers (mulberry32), and random ones behind a valid id.
  let seed = 0x6e727063;
  const rand = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
  for (let i = 0; i < 600; i++) {
    const bytes = Uint8Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256));
    feed(bytes, `random ${i}`);
    feed(Uint8Array.from([0x08, 0x2a, ...bytes]), `random ${i} after id 42`);
  }
  t.ok(answered > 100, `answered ${answered} malformed frames with a readable id`);
  t.ok(refused > 100, `refused ${refused} frames with no readable id`);

  // The cases by name.
  rejects(t, () => server.decodeRequest(Uint8Array.from([0x08])), Code.INVALID_ARGUMENT, /^rpc: malformed protobuf message: netrpc\.Request: truncated id/, "truncated id");
  rejects(t, () => server.decodeRequest(Uint8Array.from([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10])), Code.INVALID_ARGUMENT, /id is above 2\^53-1/, "an id we cannot echo");
  rejects(t, () => server.decodeRequest("{}"), Code.INVALID_ARGUMENT, /bytes, not text/, "text");
  t.same(server.decodeRequest(Uint8Array.from([0x08, 0x05, 0x12, 0x09, 0x61])), {
    kind: "invalid", id: 5, error: { code: Code.INVALID_ARGUMENT, message: "rpc: malformed protobuf message: netrpc.Request: index out of range: 4 + 9 > 5" },
  });
  // The same from a Node Buffer (what sockets deliver): protobufjs's BufferReader alone would clamp the string to "a".
  t.match(server.decodeRequest(Buffer.from([0x08, 0x05, 0x12, 0x09, 0x61])), { kind: "invalid", id: 5, error: { message: /index out of range/ } });
  t.same(server.decodeRequest(Uint8Array.from([0x08, 0x05, 0x10, 0x01])), {
    kind: "invalid", id: 5, error: { code: Code.INVALID_ARGUMENT, message: "rpc: malformed protobuf message: netrpc.Request: field 2 has wire type 0" },
  });
  const bad = client.encodeRequest({ kind: "request", id: 6, method: "user.User.GetUser", params: { id: "1" } });
  bad[bad.length - 2] = 0x0f; // the payload's GetUserReq.id length now overruns
  t.match(server.decodeRequest(bad), { kind: "invalid", id: 6, error: { code: Code.INVALID_ARGUMENT, message: /^rpc: malformed protobuf message: user\.GetUserReq: / } });
  rejects(t, () => client.decodeResponse(Uint8Array.from([0x0f])), Code.INVALID_ARGUMENT, /^rpc: malformed protobuf message: netrpc\.Response/, "a response");
});

t.test("through the LengthFramer", async (t) => {
  const { client, server } = pair();
  const framer = server.createFramer(64);
  const wire = client.createFramer(64).frame(client.encodeRequest({ kind: "request", id: 1, method: "user.User.GetUser", params: { id: "1" } })) as Uint8Array;
  t.equal(hex(wire.subarray(0, 4)), "0000001a", "u32 big-endian length 26");
  const frames: unknown[] = [];
  for (const byte of wire) framer.push(Uint8Array.of(byte), (f) => frames.push(server.decodeRequest(f)));
  t.match(frames, [{ kind: "request", id: 1, params: { id: "1" } }]);
  t.throws(() => framer.push(Uint8Array.from([0, 0, 0, 65]), () => {}), { code: Code.RESOURCE_EXHAUSTED });
});

t.test("descriptors: loadRoot, methodTypes, serviceMethods", async (t) => {
  const root = loadRoot(USER_PROTO);
  t.equal(loadRoot(root), root, "a Root passes through");
  t.same(serviceMethods(root, "user.User").map((m) => ({ ...m, requestType: m.requestType.fullName, responseType: m.responseType.fullName })), [
    { name: "user.User.GetUser", service: "user.User", method: "GetUser", requestType: ".user.GetUserReq", responseType: ".user.GetUserResp", requestStream: false, responseStream: false },
  ]);
  t.same(serviceMethods(parseProto(TEST_PROTO), "t.Things").map((m) => [m.method, m.requestStream, m.responseStream]), [
    ["Put", false, false], ["Nothing", false, false], ["Upload", true, false], ["Watch", false, true],
  ]);
  t.throws(() => serviceMethods(root, "user.Nope"), { name: "TypeError", message: "rpc: protobuf: no service user.Nope in the loaded protos (services: user.User)" });
  t.same([...methodTypes([root, loadRoot(USER_PROTO)]).keys()], ["user.User.GetUser"], "the same file twice is fine");
  const other = parseProto(`syntax = "proto3"; package user; message X {} service User { rpc GetUser(X) returns (X); }`);
  t.throws(() => methodTypes([root, other]), { name: "TypeError", message: /method user\.User\.GetUser is defined twice with different types/ });
  t.throws(() => loadRoot("examples/user/missing.proto"), { message: /^rpc: protobuf: cannot load examples\/user\/missing\.proto: / });
  t.throws(() => parseProto(`syntax = "proto3"; message A { B b = 1; }`), { message: /^rpc: protobuf: cannot resolve the given \.proto source: no such Type or Enum 'B'/ });
  t.equal(protobuf().name, "protobuf");
  t.same([...protobuf({ proto: [USER_PROTO] }).methods.keys()], ["user.User.GetUser"]);
  // keepCase: snake_case stays as written.
  const snake = parseProto(`syntax = "proto3"; message A { string user_id = 1; }`).lookupType("A");
  t.same(snake.fieldsArray.map((f) => f.name), ["user_id"]);
});
