// Fuzzing every codec session's decoders, every framer, and the server over TCP, with seeded
// random and mutated-valid inputs (test/helpers/fuzz.ts). Deterministic: FUZZ_SEED=<n> picks
// another seed, FUZZ_SCALE=<x> multiplies the counts. Every input is bounded in size, so
// nothing can hang; the rules checked are the codec seam's:
// - a decoder returns a well-formed envelope or throws an RpcError ("rpc: ..."), nothing else;
// - a framer never holds more than maxMessageSize bytes, never yields a larger frame, and
//   throws only RESOURCE_EXHAUSTED;
// - a corrupt stream closes only its own connection: calls on another connection work before,
//   between and after, and new connections are served.
import t from "tap";
import { Code, RpcError, json, type Encoded } from "../../index.js";
import { isCode } from "../../core/codes.js";
import type { CodecSession } from "../../core/codec.js";
import type { CallId, ClientInbound, RequestEnvelope, ResponseEnvelope, ServerInbound } from "../../core/envelope.js";
import { CODECS, FRAMERS, Contract, asFrame, canon, type CodecUnderTest, type FramerUnderTest } from "../helpers/codecs.js";
import { LineSocket, bounded } from "../helpers/net.js";
import {
  LENGTH_PREFIX_TOKENS,
  Rng,
  chunks,
  concatBytes,
  hex,
  lengthPrefix,
  mutate,
  randomId,
  randomRequest,
  randomResponse,
  toBytes,
} from "../helpers/fuzz.js";

const SEED = Number(process.env.FUZZ_SEED ?? 0x6e727063);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
/** Inputs per decoder per codec. */
const DECODER_INPUTS = Math.round(10_000 * SCALE);
/** Largest fuzzed frame. */
const MAX_INPUT = 8 * 1024;
/** Slowest a single decode may be before it counts as a (near) hang. */
const SLOW_MS = 500;

const KEY = /^[0-9a-z_.-]+$/;
const isId = (id: unknown) => (typeof id === "number" && Number.isFinite(id)) || typeof id === "string";

interface Failure {
  index: number;
  kind: string;
  input: string;
  problem: string;
}

/** Why an error thrown by a decoder breaks the rules, or undefined if it is an allowed one. */
function badThrow(err: unknown): string | undefined {
  if (!(err instanceof RpcError)) {
    const name = (err as Error)?.constructor?.name ?? typeof err;
    return `threw a ${name}, not an RpcError: ${(err as Error)?.message ?? String(err)}`;
  }
  if (!isCode(err.code) || err.code === Code.OK) return `RpcError with code ${String(err.code)}`;
  if (!err.message.startsWith("rpc:")) return `RpcError message does not start with "rpc:": ${err.message}`;
  return undefined;
}

function badMetadata(md: unknown): string | undefined {
  if (md === undefined) return undefined;
  if (typeof md !== "object" || md === null || Array.isArray(md)) return "metadata is not an object";
  for (const [k, v] of Object.entries(md)) {
    if (!KEY.test(k)) return `metadata key ${JSON.stringify(k)}`;
    if (typeof v !== "string" && !(Array.isArray(v) && v.every((s) => typeof s === "string"))) return `metadata value of ${k}`;
  }
  if (Object.getPrototypeOf(md) !== null && Object.getPrototypeOf(md) !== Object.prototype) return "metadata has a foreign prototype";
  return undefined;
}

function badWireError(e: unknown): string | undefined {
  const err = e as { code?: unknown; message?: unknown } | undefined;
  if (typeof err !== "object" || err === null) return "error is not an object";
  if (!isCode(err.code) || err.code === Code.OK) return `error code ${String(err.code)}`;
  if (typeof err.message !== "string") return "error message is not a string";
  return undefined;
}

/** Why a decoded request breaks the envelope rules, or undefined. */
function badInbound(msg: ServerInbound): string | undefined {
  if (typeof msg !== "object" || msg === null) return "not an object";
  if (!isId(msg.id)) return `id ${String(msg.id)}`;
  switch (msg.kind) {
    case "cancel":
    case "end":
    case "message":
      return undefined;
    case "ping":
    case "pong":
      return typeof msg.id === "number" ? undefined : `ping id ${String(msg.id)}`;
    case "credit":
      return Number.isInteger(msg.credit) && msg.credit >= 1 && msg.credit <= 0x7fffffff ? undefined : `credit ${String(msg.credit)}`;
    case "invalid":
      return badWireError(msg.error) ?? (msg.error.message.startsWith("rpc:") ? undefined : `invalid message without "rpc:": ${msg.error.message}`);
    case "request":
      if (typeof msg.method !== "string") return "method is not a string";
      if (msg.timeout !== undefined && !(typeof msg.timeout === "number" && msg.timeout >= 0 && Number.isFinite(msg.timeout))) return `timeout ${String(msg.timeout)}`;
      return badMetadata(msg.metadata);
    default:
      return `kind ${String((msg as { kind?: unknown }).kind)}`;
  }
}

function badResponse(res: ClientInbound): string | undefined {
  if (typeof res !== "object" || res === null) return "not an object";
  if (res.kind === "message") return isId(res.id) ? (res.error === undefined ? undefined : badWireError(res.error)) : `id ${String(res.id)}`;
  if (res.kind === "pong" || res.kind === "ping") return typeof res.id === "number" ? undefined : `pong id ${String(res.id)}`;
  if (res.kind === "credit") return isId(res.id) && Number.isInteger(res.credit) && res.credit >= 1 ? undefined : `credit ${String(res.credit)}`;
  if (res.kind !== "response") return `kind ${String((res as { kind?: unknown }).kind)}`;
  if (res.id !== null && !isId(res.id)) return `id ${String(res.id)}`;
  if (res.error !== undefined) return badWireError(res.error);
  return undefined;
}

function describe(frame: Encoded): string {
  return typeof frame === "string" ? `text ${hex(toBytes(frame))}` : `bytes ${hex(frame)}`;
}

/** Runs one decode, classifying what came out. */
function attempt<T>(decode: () => T, check: (v: T) => string | undefined): { problem?: string; threw: boolean; ms: number } {
  const start = performance.now();
  let problem: string | undefined;
  let threw = false;
  try {
    const v = decode();
    problem = check(v);
  } catch (err) {
    threw = true;
    problem = badThrow(err);
  }
  const ms = performance.now() - start;
  if (!problem && ms > SLOW_MS) problem = `took ${ms.toFixed(0)} ms`;
  return { ...(problem ? { problem } : {}), threw, ms };
}

/** Diagnostics as plain ASCII, so random text (U+2028, "\r", "1..0", "Bail out!") cannot upset the TAP stream. */
function safe(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).replace(/^(\s*)(ok|not ok|bail out|1\.\.)/gi, "$1> $2");
}

function report(t: Tap, failures: Failure[], what: string, rule = "only well-formed envelopes or RpcErrors"): void {
  const shown = failures.slice(0, 8).map((f) => `#${f.index} ${f.kind}: ${safe(f.problem)}\n      input ${safe(f.input)}`);
  if (failures.length > 0) t.comment(`${what}: ${failures.length} failures (seed ${SEED}), first:\n    ${shown.join("\n    ")}`);
  const first = failures[0];
  t.equal(failures.length, 0, `${what}: ${rule}${first ? `; first: #${first.index} ${first.kind}: ${safe(first.problem).slice(0, 300)} [${safe(first.input).slice(0, 160)}]` : ""}`);
}

interface Tap {
  equal(found: any, wanted: any, message: string): any;
  ok(value: any, message: string): any;
  comment(...args: any[]): any;
}

interface EncodeStats {
  encoded: number;
  refused: number;
  firstRefusal?: string;
}

/** The corpus must be mostly valid, or "mutated-valid" inputs are really random ones. */
function checkCorpus(t: Tap, stats: EncodeStats, what: string): void {
  const share = stats.encoded / Math.max(1, stats.encoded + stats.refused);
  t.ok(share >= 0.9, `${what}: encodeRequest takes the generated params (${stats.encoded} encoded, ${stats.refused} refused${stats.firstRefusal ? `; first refusal: ${safe(stats.firstRefusal).slice(0, 200)}` : ""})`);
}

/** A valid request, encoded by `client` (encoding may refuse what the codec cannot carry: then try again). */
function validRequest(entry: CodecUnderTest, rng: Rng, client: CodecSession, stats: EncodeStats, first: CallId): { request: RequestEnvelope; frame: Encoded } | undefined {
  for (let tries = 0; tries < 5; tries++) {
    const id = tries === 0 ? first : rng.int(100_000);
    const method = entry.method(rng.bool(0.9) ? "Echo" : rng.pick(["Hold", "Len", "Meta"] as const));
    const params = method.endsWith("Len") ? { text: rng.string(20) } : method.endsWith("Meta") ? {} : entry.fuzz.params(rng);
    const request = randomRequest(rng, method, params, id);
    try {
      const frame = client.encodeRequest(request);
      stats.encoded++;
      return { request, frame };
    } catch (err) {
      stats.refused++;
      if (stats.firstRefusal === undefined) stats.firstRefusal = (err as Error).message;
      const bad = badThrow(err);
      if (bad) throw new Error(`encodeRequest ${bad}`);
    }
  }
  return undefined;
}

/** Every input a decoder fuzz run uses: random bytes, deep nesting, valid frames, mutated valid frames, text frames. */
function fuzzInput(entry: CodecUnderTest, rng: Rng, valid: Uint8Array | undefined, corpus: Uint8Array[]): { kind: string; frame: Encoded } {
  const r = rng.int(100);
  if (r < 12) return { kind: "random", frame: asFrame(entry, rng.bytes(rng.size(MAX_INPUT))) };
  if (r < 14) {
    const depth = rng.bool(0.5) ? rng.range(1000, 12_000) : rng.size(2000);
    const deep = entry.fuzz.deep(rng, depth);
    return { kind: `deep(${depth})`, frame: asFrame(entry, deep.length > 200_000 ? deep.subarray(0, 200_000) : deep) };
  }
  if (r < 15) return { kind: entry.frames === "text" ? "bytes frame" : "text frame", frame: entry.frames === "text" ? rng.bytes(rng.size(64)) : rng.string(64) };
  if (!valid) return { kind: "random", frame: asFrame(entry, rng.bytes(rng.size(512))) };
  if (r < 21) return { kind: "valid", frame: asFrame(entry, valid) };
  return { kind: "mutated", frame: asFrame(entry, mutate(rng, valid, { max: MAX_INPUT, corpus, tokens: entry.fuzz.tokens })) };
}

interface Exchange {
  request: RequestEnvelope;
  requestFrame: Uint8Array;
  responseFrame: Uint8Array | undefined;
}

/**
 * Valid exchanges, each made by fresh sessions as on a new connection: the client encodes a
 * request, the server decodes it and encodes a response (a result or an error).
 */
function exchanges(t: Tap, entry: CodecUnderTest, rng: Rng, n: number): Exchange[] {
  const stats: EncodeStats = { encoded: 0, refused: 0 };
  const out: Exchange[] = [];
  let responses = 0;
  const problems: string[] = [];
  for (let i = 0; i < n; i++) {
    const client = entry.codec().fork();
    const server = entry.serverCodec().fork();
    // Mostly numbers, as our clients send; sometimes strings (JSON echoes them; protobuf refuses them).
    const made = validRequest(entry, rng, client, stats, rng.bool(0.9) ? rng.int(100_000) : randomId(rng));
    if (!made) continue;
    const requestFrame = toBytes(made.frame);
    let responseFrame: Uint8Array | undefined;
    const decoded = server.decodeRequest(made.frame);
    if (decoded.kind !== "request") problems.push(`a valid request decoded as ${decoded.kind}: ${hex(requestFrame, 64)}`);
    else {
      const res = randomResponse(rng, made.request.id, decoded.params);
      try {
        responseFrame = toBytes(server.encodeResponse(res));
        responses++;
      } catch (err) {
        const bad = badThrow(err);
        if (bad) problems.push(`encodeResponse ${bad}`);
      }
    }
    out.push({ request: made.request, requestFrame, responseFrame });
  }
  checkCorpus(t, stats, `${entry.name} corpus`);
  t.ok(responses >= stats.encoded * 0.9, `${entry.name}: the server session encodes responses to the requests it decoded (${responses} of ${stats.encoded})`);
  t.equal(problems.length, 0, `${entry.name}: valid exchanges decode${problems.length ? `; first: ${safe(problems[0]!).slice(0, 300)}` : ""}`);
  return out;
}

/** Exchanges per codec: the seeds every mutated input starts from. */
const CORPUS = 300;

for (const [index, entry] of CODECS.entries()) {
  t.test(`${entry.name}: decodeRequest takes ${DECODER_INPUTS} random and mutated inputs, and only ever throws RpcError`, async (t) => {
    const rng = new Rng(SEED + index * 1000 + 1);
    const corpus = exchanges(t, entry, rng, CORPUS);
    const frames = corpus.map((x) => x.requestFrame);
    const failures: Failure[] = [];
    const counts: Record<string, number> = {};
    let slowest = 0;
    let validOk = 0;
    let persistent: CodecSession | undefined;
    for (let i = 0; i < DECODER_INPUTS; i++) {
      // Most inputs meet a fresh session (a new connection); the last fifth share one long-lived session.
      const longLived = i >= DECODER_INPUTS * 0.8;
      const server = longLived ? (persistent ??= entry.serverCodec().fork()) : entry.serverCodec().fork();
      const input = fuzzInput(entry, rng, frames.length > 0 ? rng.pick(frames) : undefined, frames);
      const kind = input.kind.replace(/\(\d+\)/, "");
      counts[kind] = (counts[kind] ?? 0) + 1;
      const r = attempt(() => server.decodeRequest(input.frame), (msg) => {
        const bad = badInbound(msg);
        if (bad) return bad;
        if (input.kind === "valid" && msg.kind !== "request") return `a valid request decoded as ${msg.kind}: ${JSON.stringify(canon(msg)).slice(0, 200)}`;
        return undefined;
      });
      if (input.kind === "valid" && !r.threw && !r.problem) validOk++;
      if (input.kind === "valid" && r.threw && !longLived) failures.push({ index: i, kind: input.kind, input: describe(input.frame), problem: "a valid request failed to decode" });
      slowest = Math.max(slowest, r.ms);
      if (r.problem) failures.push({ index: i, kind: input.kind, input: describe(input.frame), problem: r.problem });
    }
    t.comment(`inputs by kind: ${JSON.stringify(counts)}; valid decoded: ${validOk}; slowest ${slowest.toFixed(1)} ms`);
    report(t, failures, `${entry.name} decodeRequest`);
  });

  t.test(`${entry.name}: decodeResponse takes ${DECODER_INPUTS} random and mutated inputs, and only ever throws RpcError`, async (t) => {
    const rng = new Rng(SEED + index * 1000 + 2);
    const corpus = exchanges(t, entry, rng, CORPUS).filter((x) => x.responseFrame !== undefined);
    const frames = corpus.map((x) => x.responseFrame!);
    const failures: Failure[] = [];
    const counts: Record<string, number> = {};
    let slowest = 0;
    let persistent: CodecSession | undefined;
    for (let i = 0; i < DECODER_INPUTS; i++) {
      const longLived = i >= DECODER_INPUTS * 0.8;
      const seed = corpus.length > 0 ? rng.pick(corpus) : undefined;
      const client = longLived ? (persistent ??= entry.codec().fork()) : entry.codec().fork();
      // The client sent the request first (a protobuf client then awaits that id and its type).
      if (seed) client.encodeRequest(seed.request);
      const input = fuzzInput(entry, rng, seed?.responseFrame, frames);
      const kind = input.kind.replace(/\(\d+\)/, "");
      counts[kind] = (counts[kind] ?? 0) + 1;
      const r = attempt(() => client.decodeResponse(input.frame), badResponse);
      if (input.kind === "valid" && r.threw && !longLived) failures.push({ index: i, kind: input.kind, input: describe(input.frame), problem: "a valid response failed to decode" });
      slowest = Math.max(slowest, r.ms);
      if (r.problem) failures.push({ index: i, kind: input.kind, input: describe(input.frame), problem: r.problem });
    }
    t.comment(`inputs by kind: ${JSON.stringify(counts)}; slowest ${slowest.toFixed(1)} ms`);
    report(t, failures, `${entry.name} decodeResponse`);
  });
}

// ---------------------------------------------------------------------------------------------
// Amplification: a few bytes declaring a huge count or length must not cost a decoder more than
// the bytes it was given (no allocation sized by the declared length, no long loop).

/** Slowest a decode of a frame of at most ~100 bytes may be (the best of three tries). */
const TINY_FRAME_MS = 40;

for (const [index, entry] of CODECS.entries()) {
  if (entry.fuzz.huge.length === 0) continue;
  t.test(`${entry.name}: tiny frames declaring huge lengths decode in bounded time`, async (t) => {
    const rng = new Rng(SEED + index * 1000 + 4);
    const failures: Failure[] = [];
    const client = entry.codec().fork();
    const server = entry.serverCodec().fork();
    const request = toBytes(client.encodeRequest({ kind: "request", id: 1, method: entry.method("Echo"), params: entry.tagged("amp", 1), timeout: undefined, metadata: { k: "v" } }));
    const decodedRequest = server.decodeRequest(request);
    const response = toBytes(server.encodeResponse({ kind: "response", id: 1, result: decodedRequest.kind === "request" ? decodedRequest.params : undefined }));
    let decodes = 0;
    const timeOf = (side: "request" | "response", frame: Uint8Array): { ms: number; problem?: string } => {
      // Fresh sessions (a response decoder that awaits call 1, as the client would).
      const c = entry.codec().fork();
      c.encodeRequest({ kind: "request", id: 1, method: entry.method("Echo"), params: entry.tagged("amp", 1), timeout: undefined, metadata: {} });
      const s = entry.serverCodec().fork();
      decodes++;
      const r = side === "request" ? attempt(() => s.decodeRequest(frame), badInbound) : attempt(() => c.decodeResponse(frame), badResponse);
      return { ms: r.ms, ...(r.problem && !/^took/.test(r.problem) ? { problem: r.problem } : {}) };
    };
    for (const token of entry.fuzz.huge) {
      let slowToken = false;
      for (const [side, base] of [["request", request], ["response", response]] as const) {
        for (let at = 0; at <= base.length && !slowToken; at++) {
          const inserted = concatBytes([base.subarray(0, at), token, base.subarray(at)]);
          const overwritten = toBytes(base);
          overwritten.set(token.subarray(0, Math.max(0, base.length - at)), at);
          for (const frame of [inserted, overwritten, token, concatBytes([token, rng.bytes(8)])]) {
            let best = timeOf(side, frame);
            if (best.problem) failures.push({ index: at, kind: side, input: hex(frame), problem: best.problem });
            if (best.ms <= TINY_FRAME_MS) continue;
            for (let i = 0; i < 2 && best.ms > TINY_FRAME_MS; i++) best = timeOf(side, frame);
            if (best.ms > TINY_FRAME_MS) {
              failures.push({ index: at, kind: side, input: hex(frame), problem: `a ${frame.length}-byte frame took ${best.ms.toFixed(0)} ms to decode (best of 3)` });
              slowToken = true; // one confirmed case per token is enough
              break;
            }
          }
        }
      }
    }
    t.comment(`${decodes} decodes of ${entry.fuzz.huge.length} huge-length tokens at every position of a request (${request.length} bytes) and a response (${response.length} bytes)`);
    report(t, failures, `${entry.name} tiny frames`, `each decodes within ${TINY_FRAME_MS} ms to an envelope or an RpcError`);
  });
}

// ---------------------------------------------------------------------------------------------
// Framers.

function framed(f: FramerUnderTest, body: string | Uint8Array): Uint8Array {
  return toBytes(f.make(2 ** 31 - 1).frame(body));
}

/** Node sockets deliver Buffers, other streams plain Uint8Arrays: framers get both. */
function asChunk(rng: Rng, c: Uint8Array): Uint8Array {
  return rng.bool() ? Buffer.from(c.buffer, c.byteOffset, c.byteLength) : c;
}

function frameSize(frame: Encoded): number {
  return typeof frame === "string" ? Buffer.byteLength(frame, "utf8") : frame.length;
}

/** A body the framing carries unchanged: newline framing needs non-empty text with no "\n" and no trailing "\r". */
function body(f: FramerUnderTest, rng: Rng, max: number): string | Uint8Array {
  if (!f.text) return rng.bytes(rng.size(max));
  let s = rng.string(Math.max(1, Math.floor(max / 4))).replace(/[\n\r]/g, " ").replace(/[\ud800-\udfff]/g, "?");
  if (s.length === 0) s = "x";
  return s;
}

for (const f of FRAMERS) {
  t.test(`${f.name}: valid frames split anywhere come out whole, in order, and buffered never passes the limit`, async (t) => {
    const rng = new Rng(SEED + 77);
    const STREAMS = Math.round(2000 * SCALE);
    const failures: Failure[] = [];
    for (let s = 0; s < STREAMS; s++) {
      const bodies = Array.from({ length: rng.range(1, 12) }, () => body(f, rng, 600));
      const largest = Math.max(...bodies.map((b) => frameSize(b)));
      const limit = Math.max(1, rng.bool(0.3) ? largest : largest + rng.size(1000));
      const framer = f.make(limit);
      const stream = concatBytes(bodies.map((b) => framed(f, b)));
      const out: Encoded[] = [];
      try {
        for (const c of chunks(rng, stream)) {
          framer.push(asChunk(rng, c), (frame) => out.push(typeof frame === "string" ? frame : toBytes(frame)));
          if (framer.buffered > limit) throw new Error(`buffered ${framer.buffered} > limit ${limit}`);
        }
      } catch (err) {
        failures.push({ index: s, kind: "valid stream", input: hex(stream), problem: `threw ${(err as Error).message}` });
        continue;
      }
      const want = bodies.map((b) => (typeof b === "string" ? b : Buffer.from(b).toString("hex")));
      const got = out.map((b) => (typeof b === "string" ? b : Buffer.from(b).toString("hex")));
      const at = want.findIndex((w, i) => got[i] !== w);
      if (at !== -1 || got.length !== want.length) {
        const i = at === -1 ? want.length : at;
        failures.push({ index: s, kind: "valid stream", input: hex(stream), problem: `frame ${i} of ${want.length} differs: sent ${JSON.stringify(want[i] ?? null).slice(0, 80)}, got ${JSON.stringify(got[i] ?? null).slice(0, 80)}` });
      }
      else if (framer.buffered !== 0) failures.push({ index: s, kind: "valid stream", input: hex(stream), problem: `buffered ${framer.buffered} after the last frame` });
    }
    const tiny = failures.filter((x) => /^threw buffered/.test(x.problem) && Number(/limit (\d+)/.exec(x.problem)?.[1]) < 4);
    report(t, failures.filter((x) => !tiny.includes(x)), `${f.name} reassembly of ${STREAMS} streams`, "frames out as they went in");
    report(t, tiny, `${f.name} reassembly with maxMessageSize 1..3`, "buffered never passes the limit, even below the 4-byte length prefix");
  });

  t.test(`${f.name}: random, mutated and oversized streams: only RESOURCE_EXHAUSTED, never more than maxMessageSize held or yielded`, async (t) => {
    const rng = new Rng(SEED + 78);
    const STREAMS = Math.round(8000 * SCALE);
    const failures: Failure[] = [];
    const corpus = Array.from({ length: 16 }, () => framed(f, body(f, rng, 300)));
    let refused = 0;
    for (let s = 0; s < STREAMS; s++) {
      const limit = rng.pick([1, 2, 3, 4, 5, 16, 100, 255, 256, 1000, 4096, rng.range(1, 5000)]);
      let stream: Uint8Array;
      const mode = rng.int(4);
      if (mode === 0) stream = rng.bytes(rng.size(MAX_INPUT));
      else if (mode === 1) stream = concatBytes(Array.from({ length: rng.range(1, 6) }, () => rng.pick(corpus)));
      else if (mode === 2) stream = mutate(rng, concatBytes(Array.from({ length: rng.range(1, 6) }, () => rng.pick(corpus))), { max: MAX_INPUT, corpus, tokens: f.text ? [] : LENGTH_PREFIX_TOKENS });
      else stream = f.text ? new Uint8Array(rng.size(MAX_INPUT)).fill(rng.pick([0x41, 0x0d, 0xff, 0x80])) : concatBytes([lengthPrefix(rng.pick([limit, limit + 1, 0x7fffffff, 0xffffffff, rng.u32()])), rng.bytes(rng.size(2048))]);
      const framer = f.make(limit);
      let problem: string | undefined;
      for (const c of chunks(rng, stream)) {
        try {
          framer.push(asChunk(rng, c), (frame) => {
            if (frameSize(frame) > limit) problem ??= `yielded a frame of ${frameSize(frame)} bytes > limit ${limit}`;
          });
        } catch (err) {
          if (!(err instanceof RpcError) || err.code !== Code.RESOURCE_EXHAUSTED || !err.message.startsWith("rpc:")) problem ??= `threw ${badThrow(err) ?? `${(err as RpcError).codeName}: ${(err as Error).message}`}`;
          refused++;
          break;
        }
        if (framer.buffered > limit) problem ??= `buffered ${framer.buffered} > limit ${limit}`;
      }
      if (problem) failures.push({ index: s, kind: `mode ${mode}, limit ${limit}`, input: hex(stream), problem });
    }
    t.comment(`${refused} of ${STREAMS} streams refused with RESOURCE_EXHAUSTED`);
    const tiny = failures.filter((x) => /^buffered/.test(x.problem) && Number(/limit (\d+)/.exec(x.kind)?.[1]) < 4);
    report(t, failures.filter((x) => !tiny.includes(x)), `${f.name} on ${STREAMS} hostile streams`, "only RESOURCE_EXHAUSTED; never holds or yields more than the limit");
    report(t, tiny, `${f.name} hostile streams with maxMessageSize 1..3`, "buffered never passes the limit, even below the 4-byte length prefix");
  });

  t.test(`${f.name}: an oversize message is refused the moment it is known to be too big, before its body is held`, async (t) => {
    const rng = new Rng(SEED + 79);
    const failures: Failure[] = [];
    for (let s = 0; s < 300; s++) {
      const limit = rng.range(4, 3000);
      const framer = f.make(limit);
      // Newline framing knows at byte limit+1 of an unfinished line; length framing at the header's last byte.
      const stream = f.text ? new Uint8Array(limit + 1 + rng.size(100)).fill(0x61) : concatBytes([lengthPrefix(limit + 1 + rng.pick([0, 1, 1000, 0x7fffffff - limit - 1])), rng.bytes(rng.size(100))]);
      const mustThrowBy = f.text ? limit + 1 : 4;
      let fed = 0;
      let threwAt: number | undefined;
      for (const c of chunks(rng, stream)) {
        try {
          framer.push(asChunk(rng, c), () => {});
        } catch (err) {
          threwAt = fed + c.length;
          if (!(err instanceof RpcError) || err.code !== Code.RESOURCE_EXHAUSTED) failures.push({ index: s, kind: `limit ${limit}`, input: hex(stream), problem: `threw ${String(err)}` });
          break;
        }
        fed += c.length;
        if (framer.buffered > limit) failures.push({ index: s, kind: `limit ${limit}`, input: hex(stream), problem: `buffered ${framer.buffered}` });
        if (fed >= mustThrowBy) break;
      }
      if (threwAt === undefined || threwAt - mustThrowBy >= stream.length) failures.push({ index: s, kind: `limit ${limit}`, input: hex(stream), problem: `not refused after ${fed} bytes (should be by byte ${mustThrowBy})` });
    }
    report(t, failures, `${f.name} refuses oversize messages early`, "RESOURCE_EXHAUSTED as soon as the size is known");
  });
}

// ---------------------------------------------------------------------------------------------
// Over TCP: corrupt streams close only their own connection.

/** A raw TCP connection that records every byte the server sends. */
async function rawConnect(t: Parameters<typeof LineSocket.connect>[0], url: string): Promise<{ ls: LineSocket; bytes: () => Uint8Array }> {
  const ls = await LineSocket.connect(t, url);
  const got: Buffer[] = [];
  ls.socket.on("data", (d: Buffer) => got.push(d));
  return { ls, bytes: () => new Uint8Array(Buffer.concat(got)) };
}

/**
 * Splits what a server sent into its preface ack (if any) and the frames after it, each
 * decoded by `client`. A connection whose first byte was not "N" was taken for JSON (as Go's
 * client would be), so JSON replies are read as JSON whatever codec the test meant to speak.
 */
function readReplies(client: CodecSession, bytes: Uint8Array): { ack?: number; replies: ClientInbound[]; error?: string } {
  let rest = bytes;
  let ack: number | undefined;
  let session = client;
  if (rest.length >= 5 && Buffer.from(rest.subarray(0, 5)).toString("latin1") === "NRPC\x01") {
    if (rest.length < 7 || rest.length < 7 + rest[6]!) return { replies: [], error: `a truncated ack: ${hex(rest, 32)}` };
    ack = rest[5];
    rest = rest.subarray(7 + rest[6]!);
  } else if (rest.length > 0 && rest[0] === 0x7b) session = json.fork();
  const replies: ClientInbound[] = [];
  const framer = session.createFramer(2 ** 31 - 1);
  try {
    framer.push(rest, (frame) => replies.push(session.decodeResponse(frame)));
  } catch (err) {
    return { ...(ack === undefined ? {} : { ack }), replies, error: `reply does not decode: ${safe((err as Error).message)}: ${hex(rest, 48)}` };
  }
  if (framer.buffered > 0) return { ...(ack === undefined ? {} : { ack }), replies, error: `an incomplete reply: ${hex(rest, 48)}` };
  return { ...(ack === undefined ? {} : { ack }), replies };
}

for (const [index, entry] of CODECS.entries()) {
  t.test(`${entry.name} over TCP: corrupt streams close only their own connection`, async (t) => {
    const rng = new Rng(SEED + index * 1000 + 3);
    const LIMIT = 64 * 1024;
    const { url } = await entry.start(t, new Contract(entry.values), { maxMessageSize: LIMIT, handshakeTimeout: 500 });
    const healthy = await entry.connect(t, url);
    /** Undefined when the healthy connection answers correctly, else what went wrong. */
    const broken = async (what: string): Promise<string | undefined> => {
      try {
        const r = await bounded(healthy.call(entry.method("Echo"), entry.tagged(what, 5)), 3_000, what);
        const got = JSON.stringify(canon(entry.untag(r)));
        return got === JSON.stringify(canon({ s: what, i32: 5 })) ? undefined : `wrong reply ${safe(got).slice(0, 200)}`;
      } catch (err) {
        return safe(String(err));
      }
    };
    t.equal(await broken("before"), undefined, "the healthy connection works before");

    type Scenario = "random" | "valid then random" | "valid then mutated" | "oversize" | "deep" | "mutated preface" | "nothing then end" | "partial preface then end";
    const RANDOM: Scenario[] = ["random", "valid then random", "valid then mutated", "oversize", "deep", "mutated preface"];
    const rounds: Scenario[] = Array.from({ length: Math.round(30 * SCALE) }, (_, i) => RANDOM[i % RANDOM.length]!);
    // A peer that hangs up before (or while) naming its codec: once each.
    rounds.push("nothing then end");
    if (entry.preface) rounds.push("partial preface then end");
    const problems: string[] = [];
    for (const [round, scenario] of rounds.entries()) {
      const client = entry.codec().fork();
      const framer = client.createFramer(LIMIT);
      const frameOf = (e: Encoded) => toBytes(framer.frame(e));
      const valid = () => frameOf(client.encodeRequest({ kind: "request", id: round, method: entry.method("Echo"), params: entry.tagged(`round ${round}`, round), timeout: undefined, metadata: {} }));
      const preface = entry.preface ?? new Uint8Array(0);
      let send: Uint8Array;
      let fatal = false; // the server must close this connection by itself
      switch (scenario) {
        case "random":
          send = concatBytes([preface, rng.bytes(rng.range(1, 8192))]);
          break;
        case "valid then random":
          send = concatBytes([preface, valid(), rng.bytes(rng.range(1, 8192))]);
          break;
        case "valid then mutated":
          send = concatBytes([preface, valid(), mutate(rng, valid(), { max: 8192, tokens: entry.fuzz.tokens })]);
          break;
        case "oversize":
          // A declared length (or an unfinished line) past maxMessageSize: fatal whatever follows.
          send = concatBytes([preface, entry.frames === "text" ? new Uint8Array(LIMIT + 10).fill(0x7b) : concatBytes([lengthPrefix(LIMIT + 1 + rng.int(1000)), rng.bytes(100)])]);
          fatal = true;
          break;
        case "deep": {
          const deep = entry.fuzz.deep(rng, rng.range(20_000, 60_000)).subarray(0, LIMIT - 16);
          send = concatBytes([preface, entry.frames === "text" ? concatBytes([deep, new Uint8Array([0x0a])]) : frameOf(deep)]);
          break;
        }
        case "mutated preface":
          send = concatBytes([mutate(rng, entry.preface ?? new Uint8Array([0x4e, 0x52, 0x50, 0x43, 0x01, 0x04, 0x6a, 0x73, 0x6f, 0x6e]), { max: 64 }), rng.bytes(rng.size(64))]);
          break;
        case "nothing then end":
          send = new Uint8Array(0);
          break;
        case "partial preface then end":
          send = preface.subarray(0, rng.range(1, preface.length - 1));
          break;
      }
      const raw = await rawConnect(t, url);
      // Cut as a socket might deliver it; past 64 pieces the rest goes in one write.
      const pieces = chunks(rng, send);
      for (const c of pieces.slice(0, 64)) if (c.length > 0) raw.ls.socket.write(c);
      if (pieces.length > 64) raw.ls.socket.write(concatBytes(pieces.slice(64)));
      // Unless the input is certain to be fatal, half-close: whatever it was, the server must then close too.
      if (!fatal) raw.ls.end();
      const closed = await raw.ls.waitClosed(1_500);
      const label = `round ${round} (${scenario}), input ${hex(send, 48)}`;
      if (!closed) problems.push(`${label}: the server did not close the connection${fatal ? "" : " after the peer ended its side"} within 1.5 s`);
      const replies = readReplies(client, raw.bytes());
      if (replies.error) problems.push(`${label}: ${replies.error}`);
      if (fatal) {
        const last = replies.replies.at(-1);
        if (!last || last.kind !== "response" || last.id !== null || last.error?.code !== Code.RESOURCE_EXHAUSTED) problems.push(`${label}: last words should be an id-null RESOURCE_EXHAUSTED error, got ${safe(JSON.stringify(canon(last))).slice(0, 200)}`);
      }
      raw.ls.destroy();
      const health = await broken(`round ${round}`);
      if (health) problems.push(`${label}: the healthy connection broke: ${health}`);
    }
    t.comment(`${rounds.length} corrupt connections`);
    t.equal(problems.length, 0, `every corrupt connection closed, alone${problems.length ? `; ${problems.length} problems:\n  ${problems.slice(0, 10).join("\n  ")}` : ""}`);
    t.equal(await broken("after"), undefined, "the healthy connection works after");
    const fresh = await entry.connect(t, url);
    let freshProblem: string | undefined;
    try {
      const r = await bounded(fresh.call(entry.method("Echo"), entry.tagged("fresh", 9)), 3_000, "fresh");
      if (JSON.stringify(canon(entry.untag(r))) !== JSON.stringify(canon({ s: "fresh", i32: 9 }))) freshProblem = "wrong reply";
    } catch (err) {
      freshProblem = safe(String(err));
    }
    t.equal(freshProblem, undefined, "a new connection is served");
  });
}
