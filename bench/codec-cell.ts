// One cell of the codec micro-benchmark, in its own process (so one codec's JIT state cannot
// colour another's): a client session and a server session of one codec, as on one connection.
// Usage: codec-cell.ts <json|msgpack|protobuf> <payload id> <durationMs> <warmupMs>
//
// Each batch: the client encodes BATCH requests and the server decodes them (not timed; the
// protobuf sessions need it, to know each call's method and so its response type), then the
// server encodes the BATCH responses (timed: encode) and the client decodes them in order
// (timed: decode). For msgpack the two sessions are the two ends of one stream, so after the
// first message every structure has been sent: the steady state is what is measured.
import { Packr } from "msgpackr";
import { json } from "../codecs/json.js";
import { msgpack } from "../codecs/msgpack.js";
import { protobuf } from "../codecs/protobuf/index.js";
import type { Codec, CodecSession, Encoded } from "../core/codec.js";
import { CODEC_PROTOS, PAYLOADS } from "./payloads.js";

export interface CodecCellResult {
  codec: string;
  payload: string;
  ops: number;
  /** Response encode + decode pairs per second of encode and decode time. */
  opsPerSec: number;
  /** Mean time of one encodeResponse, one decodeResponse, in µs. */
  encodeUs: number;
  decodeUs: number;
  /** Body bytes (no length prefix) of the first response on the session, and of a later one. */
  firstBody: number;
  steadyBody: number;
  /** Bytes of the result value inside those bodies; body - value is the envelope. */
  firstValue: number;
  steadyValue: number;
}

const BATCH = 64;
const encoder = new TextEncoder();

/** JSON with every object's keys sorted: protobufjs's toObject puts repeated fields first. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  );
}

const byteLength = (e: Encoded): number => (typeof e === "string" ? Buffer.byteLength(e) : e.length);

function endsWith(body: Encoded, value: Uint8Array): boolean {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  return bytes.length >= value.length && Buffer.compare(bytes.subarray(bytes.length - value.length), value) === 0;
}

/**
 * The result value's bytes as the codec puts them in the n-th response of a session (n = 1, 2, 3),
 * each checked to sit inside the body where the envelope format says it does.
 */
function valueBytes(name: string, codec: Codec, method: string, result: unknown): (n: number, body: Encoded) => number {
  switch (name) {
    case "json": {
      const text = JSON.stringify(result);
      return (_, body) => {
        if (typeof body !== "string" || !body.includes(`"result":${text},`)) throw new Error("json body does not hold the result text");
        return Buffer.byteLength(text);
      };
    }
    case "msgpack": {
      // The same encoder settings on the same sequence of values: the 1st defines the record
      // structures (keys), later ones refer to them. The result is the envelope array's last item.
      const packr = new Packr({ sequential: true, useBigIntExtension: true });
      return (_, body) => {
        const value = packr.pack(result);
        if (!endsWith(body, value)) throw new Error("msgpack body does not end with the result value");
        return value.length;
      };
    }
    case "protobuf": {
      const md = (codec as ReturnType<typeof protobuf>).methods.get(method);
      if (!md) throw new Error(`no descriptor for ${method}`);
      // The response type's message bytes; Response.payload (field 4) is the envelope's last field.
      const message = md.responseType.encode(md.responseType.fromObject(result as Record<string, unknown>)).finish();
      return (_, body) => {
        if (!endsWith(body, message)) throw new Error("protobuf body does not end with the response message");
        return message.length;
      };
    }
  }
  throw new Error(`unknown codec ${name}`);
}

function main(): CodecCellResult {
  const [name = "", payloadId = "", duration = "", warmup = ""] = process.argv.slice(2);
  const codec: Codec | undefined = name === "json" ? json : name === "msgpack" ? msgpack : name === "protobuf" ? protobuf({ proto: CODEC_PROTOS }) : undefined;
  if (!codec) throw new Error(`unknown codec ${name}`);
  const payload = PAYLOADS.find((p) => p.id === payloadId);
  if (!payload) throw new Error(`unknown payload ${payloadId}`);
  const pb = name === "protobuf";
  const method = pb ? payload.protoMethod : payload.method;
  const result = pb ? payload.protoResult : payload.result;
  const expected = canonical(result);

  const client: CodecSession = codec.fork();
  const server: CodecSession = codec.fork();
  let nextId = 1;
  const ids: number[] = new Array(BATCH);
  const frames: Encoded[] = new Array(BATCH);
  const decoded: unknown[] = new Array(BATCH);

  /** Requests for calls nextId.. on their way to the server: not timed. */
  const call = (count: number) => {
    for (let k = 0; k < count; k++) {
      const id = nextId++;
      ids[k] = id;
      const req = server.decodeRequest(client.encodeRequest({ kind: "request", id, method, params: payload.params }));
      if (req.kind !== "request") throw new Error(`request ${id} decoded as ${req.kind}`);
    }
  };
  const check = (value: unknown, id: number) => {
    const res = value as { id: unknown; result?: unknown; error?: unknown };
    if (res.id !== id || res.error !== undefined || canonical(res.result) !== expected) {
      throw new Error(`response ${id} decoded as ${JSON.stringify(value).slice(0, 200)}`);
    }
  };

  // Sizes: the first three responses of the session pair (ids 1, 2, 3), each decoded and checked.
  const value = valueBytes(name, codec, method, result);
  const sizes: Array<{ body: number; value: number }> = [];
  for (let n = 1; n <= 3; n++) {
    call(1);
    const body = server.encodeResponse({ kind: "response", id: ids[0]!, result });
    sizes.push({ body: byteLength(body), value: value(n, body) });
    check(client.decodeResponse(body), ids[0]!);
  }
  if (sizes[1]!.body !== sizes[2]!.body || sizes[1]!.value !== sizes[2]!.value) throw new Error(`responses 2 and 3 differ in size: ${JSON.stringify(sizes)}`);

  let encodeNs = 0;
  let decodeNs = 0;
  let ops = 0;
  let batches = 0;
  const run = (ms: number, measured: boolean) => {
    const deadline = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
    while (process.hrtime.bigint() < deadline) {
      call(BATCH);
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < BATCH; k++) frames[k] = server.encodeResponse({ kind: "response", id: ids[k]!, result });
      const t1 = process.hrtime.bigint();
      for (let k = 0; k < BATCH; k++) decoded[k] = client.decodeResponse(frames[k]!);
      const t2 = process.hrtime.bigint();
      // Every reply of the first batch, then the last of each batch (not timed).
      if (batches++ === 0) for (let k = 0; k < BATCH; k++) check(decoded[k], ids[k]!);
      else check(decoded[BATCH - 1], ids[BATCH - 1]!);
      if (measured) {
        encodeNs += Number(t1 - t0);
        decodeNs += Number(t2 - t1);
        ops += BATCH;
      }
    }
  };
  if (Number(warmup) > 0) run(Number(warmup), false);
  run(Number(duration), true);

  return {
    codec: name,
    payload: payload.id,
    ops,
    opsPerSec: ops / ((encodeNs + decodeNs) / 1e9),
    encodeUs: encodeNs / ops / 1000,
    decodeUs: decodeNs / ops / 1000,
    firstBody: sizes[0]!.body,
    steadyBody: sizes[1]!.body,
    firstValue: sizes[0]!.value,
    steadyValue: sizes[1]!.value,
  };
}

try {
  const result = main();
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`, () => process.exit(0));
} catch (e) {
  process.stdout.write(`FAILED ${JSON.stringify(e instanceof Error ? e.message : String(e))}\n`, () => process.exit(1));
}
// The orchestrator went away: do not linger.
process.on("disconnect", () => process.exit(2));
