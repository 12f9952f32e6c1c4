// A small grpc.testing.TestService on @grpc/grpc-js (protobufjs serializers, no proto-loader): the
// reference server our interop client is run against. It serves what grpc-js lets a handler do:
// not CompressedRequest (a handler cannot see whether a request was compressed) nor a per-call
// CompressedResponse; UnimplementedCall is left out so grpc-js answers UNIMPLEMENTED.
import { setTimeout as sleep } from "node:timers/promises";
import type { Root } from "protobufjs";
import { grpc, definitionOf } from "./grpcjs.js";

const ECHO_INITIAL = "x-grpc-test-echo-initial";
const ECHO_TRAILING = "x-grpc-test-echo-trailing-bin";

// Messages as definitionOf's deserializers make them: enums as numbers, unset messages null.
interface EchoStatus {
  code: number;
  message: string;
}
interface ResponseParameters {
  size: number;
  interval_us: number;
}
interface SimpleRequest {
  response_type: number;
  response_size: number;
  response_status: EchoStatus | null;
}
interface StreamingOutputCallRequest {
  response_type: number;
  response_parameters: ResponseParameters[];
  response_status: EchoStatus | null;
}
interface StreamingInputCallRequest {
  payload: { body: Uint8Array } | null;
}

type AnyCall = { metadata: grpc.Metadata; sendMetadata(md: grpc.Metadata): void };

/** Echo Metadata: the initial key goes back now, the trailing one with the status. */
function echo(call: AnyCall): grpc.Metadata {
  const header = new grpc.Metadata();
  for (const value of call.metadata.get(ECHO_INITIAL)) header.add(ECHO_INITIAL, value);
  call.sendMetadata(header);
  const trailer = new grpc.Metadata();
  for (const value of call.metadata.get(ECHO_TRAILING)) trailer.add(ECHO_TRAILING, value);
  return trailer;
}

function statusError(status: EchoStatus, trailer: grpc.Metadata): Partial<grpc.ServiceError> {
  return { code: status.code, details: status.message, metadata: trailer };
}

function payload(size: number): { type: number; body: Buffer } {
  return { type: 0, body: Buffer.alloc(size) };
}

function invalid(message: string, trailer: grpc.Metadata): Partial<grpc.ServiceError> {
  return { code: grpc.status.INVALID_ARGUMENT, details: message, metadata: trailer };
}

/** Writes one reply per ResponseParameters, sleeping interval_us before each; false once cancelled. */
async function writeReplies(call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>, request: StreamingOutputCallRequest): Promise<boolean> {
  for (const params of request.response_parameters) {
    if (params.interval_us > 0) await sleep(params.interval_us / 1000);
    if (call.cancelled) return false;
    call.write({ payload: payload(params.size) });
  }
  return true;
}

/**
 * The call's requests. A plain `for await` destroys the stream when the loop ends, which would
 * cancel the call before its status is sent; this iterator leaves it open.
 */
function requestsOf(call: grpc.ServerDuplexStream<StreamingOutputCallRequest, object>): AsyncIterable<StreamingOutputCallRequest> {
  return call.iterator({ destroyOnReturn: false }) as AsyncIterable<StreamingOutputCallRequest>;
}

const implementation: grpc.UntypedServiceImplementation = {
  EmptyCall(call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) {
    callback(null, {}, echo(call));
  },

  UnaryCall(call: grpc.ServerUnaryCall<SimpleRequest, object>, callback: grpc.sendUnaryData<object>) {
    const trailer = echo(call);
    const request = call.request;
    if (request.response_status && request.response_status.code !== 0) return callback(statusError(request.response_status, trailer));
    if (request.response_type !== 0) return callback(invalid(`unsupported response_type ${request.response_type}`, trailer));
    callback(null, { payload: payload(request.response_size) }, trailer);
  },

  async StreamingOutputCall(call: grpc.ServerWritableStream<StreamingOutputCallRequest, object>) {
    const trailer = echo(call);
    const request = call.request;
    if (request.response_status && request.response_status.code !== 0) return void call.emit("error", statusError(request.response_status, trailer));
    if (await writeReplies(call, request)) call.end(trailer);
  },

  StreamingInputCall(call: grpc.ServerReadableStream<StreamingInputCallRequest, object>, callback: grpc.sendUnaryData<object>) {
    const trailer = echo(call);
    let size = 0;
    call.on("data", (request: StreamingInputCallRequest) => (size += request.payload?.body.length ?? 0));
    call.on("end", () => callback(null, { aggregated_payload_size: size }, trailer));
  },

  async FullDuplexCall(call: grpc.ServerDuplexStream<StreamingOutputCallRequest, object>) {
    const trailer = echo(call);
    try {
      for await (const request of requestsOf(call)) {
        if (request.response_status && request.response_status.code !== 0) return void call.emit("error", statusError(request.response_status, trailer));
        if (!(await writeReplies(call, request))) return;
      }
    } catch {
      return; // cancelled or deadline: the client is gone
    }
    call.end(trailer);
  },

  async HalfDuplexCall(call: grpc.ServerDuplexStream<StreamingOutputCallRequest, object>) {
    const trailer = echo(call);
    const all: StreamingOutputCallRequest[] = [];
    try {
      for await (const request of requestsOf(call)) all.push(request);
    } catch {
      return;
    }
    for (const request of all) {
      if (request.response_status && request.response_status.code !== 0) return void call.emit("error", statusError(request.response_status, trailer));
      if (!(await writeReplies(call, request))) return;
    }
    call.end(trailer);
  },
};

/** Serves grpc.testing.TestService from `root` (test.proto) on 127.0.0.1:0; stop() force-shuts it. */
export async function startGrpcJsInteropServer(root: Root): Promise<{ port: number; stop(): void }> {
  const server = new grpc.Server();
  server.addService(definitionOf(root, "grpc.testing.TestService"), implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, stop: () => server.forceShutdown() };
}
