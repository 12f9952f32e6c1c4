// grpc.testing.TestService as interop-test-descriptions.md ("Server") describes it. UnimplementedCall
// is left out on purpose: the server answers it UNIMPLEMENTED, as the suite expects.
import { setTimeout as sleep } from "node:timers/promises";
import { Code, RpcError, type CallContext } from "../../index.js";

// Messages as the protobuf codec hands them over: every field present, unset messages null.
interface BoolValue {
  value: boolean;
}
interface Payload {
  type: string;
  body: Uint8Array;
}
interface EchoStatus {
  code: number;
  message: string;
}
interface SimpleRequest {
  response_type: string;
  response_size: number;
  payload: Payload | null;
  response_compressed: BoolValue | null;
  response_status: EchoStatus | null;
  expect_compressed: BoolValue | null;
}
interface ResponseParameters {
  size: number;
  interval_us: number;
  compressed: BoolValue | null;
}
interface StreamingOutputCallRequest {
  response_type: string;
  response_parameters: ResponseParameters[];
  payload: Payload | null;
  response_status: EchoStatus | null;
}
interface StreamingInputCallRequest {
  payload: Payload | null;
  expect_compressed: BoolValue | null;
}

const ECHO_INITIAL = "x-grpc-test-echo-initial";
const ECHO_TRAILING = "x-grpc-test-echo-trailing-bin";

/** Echo Metadata: the two test keys go back, exactly, in the response headers and trailers. */
function echoMetadata(ctx: CallContext): void {
  const initial = ctx.metadata[ECHO_INITIAL];
  if (initial !== undefined) ctx.responseHeader[ECHO_INITIAL] = initial;
  const trailing = ctx.metadata[ECHO_TRAILING];
  if (trailing !== undefined) ctx.responseTrailer[ECHO_TRAILING] = trailing;
}

/** Echo Status: a non-OK response_status ends the call with that code and message. */
function echoStatus(status: EchoStatus | null): void {
  if (status && status.code !== 0) throw new RpcError(status.code as Code, status.message);
}

/** CompressedRequest: expect_compressed=true fails a request that arrived uncompressed. */
function checkCompressed(expect: BoolValue | null, ctx: CallContext): void {
  if (expect?.value && !ctx.requestCompressed) {
    throw new RpcError(Code.INVALID_ARGUMENT, "expected a compressed request, got an uncompressed one");
  }
}

/** A payload of `size` zero bytes; COMPRESSABLE is the only type the protos still define. */
function payload(type: string, size: number): Payload {
  if (type !== "COMPRESSABLE") throw new RpcError(Code.INVALID_ARGUMENT, `unsupported response_type ${JSON.stringify(type)}`);
  if (size < 0) throw new RpcError(Code.INVALID_ARGUMENT, `negative response size ${size}`);
  return { type, body: Buffer.alloc(size) };
}

/** Observe interval_us: sleeps before a reply, ended early when the call is. */
async function pause(intervalUs: number, ctx: CallContext): Promise<void> {
  if (intervalUs > 0) await sleep(intervalUs / 1000, undefined, { signal: ctx.signal });
}

/**
 * One reply per ResponseParameters. ctx.compressResponse is read as each reply is written, so
 * setting it before the yield makes compression per message (the first reply's choice also
 * settles the response's grpc-encoding: with a first uncompressed reply, none is compressed).
 */
async function* replies(request: StreamingOutputCallRequest, ctx: CallContext): AsyncGenerator<{ payload: Payload }> {
  for (const params of request.response_parameters) {
    await pause(params.interval_us, ctx);
    ctx.compressResponse = params.compressed?.value === true;
    yield { payload: payload(request.response_type, params.size) };
  }
}

export class TestService {
  EmptyCall(_request: object, ctx: CallContext): object {
    echoMetadata(ctx);
    return {};
  }

  UnaryCall(request: SimpleRequest, ctx: CallContext): object {
    echoMetadata(ctx);
    echoStatus(request.response_status);
    checkCompressed(request.expect_compressed, ctx);
    if (request.response_compressed) ctx.compressResponse = request.response_compressed.value;
    return { payload: payload(request.response_type, request.response_size) };
  }

  /** The current time in nanoseconds as the payload, and headers a caching proxy may act on. */
  CacheableUnaryCall(_request: SimpleRequest, ctx: CallContext): object {
    echoMetadata(ctx);
    ctx.responseHeader["cache-control"] = "max-age=60, public";
    return { payload: { type: "COMPRESSABLE", body: Buffer.from(String(process.hrtime.bigint())) } };
  }

  async *StreamingOutputCall(request: StreamingOutputCallRequest, ctx: CallContext): AsyncGenerator<object> {
    echoMetadata(ctx);
    echoStatus(request.response_status);
    yield* replies(request, ctx);
  }

  async StreamingInputCall(requests: AsyncIterable<StreamingInputCallRequest>, ctx: CallContext): Promise<object> {
    echoMetadata(ctx);
    let size = 0;
    for await (const request of requests) {
      checkCompressed(request.expect_compressed, ctx);
      size += request.payload?.body.length ?? 0;
    }
    return { aggregated_payload_size: size };
  }

  async *FullDuplexCall(requests: AsyncIterable<StreamingOutputCallRequest>, ctx: CallContext): AsyncGenerator<object> {
    echoMetadata(ctx);
    for await (const request of requests) {
      echoStatus(request.response_status);
      yield* replies(request, ctx);
    }
  }

  /** Reads every request first, then answers them in order. */
  async *HalfDuplexCall(requests: AsyncIterable<StreamingOutputCallRequest>, ctx: CallContext): AsyncGenerator<object> {
    echoMetadata(ctx);
    const all: StreamingOutputCallRequest[] = [];
    for await (const request of requests) all.push(request);
    for (const request of all) {
      echoStatus(request.response_status);
      yield* replies(request, ctx);
    }
  }
}
