// @grpc/grpc-js as the real peer of our gRPC transport: its generic client and its server, with
// protobufjs doing the (de)serializing (no generated code, no proto-loader), on 127.0.0.1 port 0.
import * as grpc from "@grpc/grpc-js";
import type { IConversionOptions, Root, Type } from "protobufjs";
import { parseProto } from "../../codecs/protobuf/index.js";

export { grpc };

/** One service with every call kind; `blob` sizes messages exactly for the limit tests. */
export const ECHO_PROTO = `syntax = "proto3";
package wire;
service Echo {
  rpc Unary(Msg) returns (Msg);
  rpc ServerStream(Msg) returns (stream Msg);
  rpc ClientStream(stream Msg) returns (Msg);
  rpc Bidi(stream Msg) returns (stream Msg);
}
message Msg { string text = 1; int32 n = 2; bytes blob = 3; }
`;

export const ECHO = "wire.Echo";

export function echoRoot(): Root {
  return parseProto(ECHO_PROTO);
}

export interface Msg {
  text?: string;
  n?: number;
  blob?: Uint8Array;
}

/** The Msg whose encoding is exactly `size` bytes (tag + 4-byte length varint + blob), for size >= 2^21 + 5. */
export function msgOfSize(size: number): Msg {
  const blob = size - 1 - 4;
  if (blob < 2 ** 21 || blob >= 2 ** 28) throw new RangeError("msgOfSize: the blob length must take a 4-byte varint");
  return { blob: Buffer.alloc(blob, 0x61) };
}

const AS_OBJECT: IConversionOptions = { longs: String, defaults: true, arrays: true, objects: true };

function serialize(type: Type): (value: object) => Buffer {
  return (value) => Buffer.from(type.encode(type.fromObject(value)).finish());
}

function deserialize(type: Type, asObject: IConversionOptions): (bytes: Buffer) => any {
  return (bytes) => type.toObject(type.decode(bytes), asObject);
}

/** grpc-js's service definition of `service` in `root`; messages arrive as toObject(asObject) makes them. */
export function definitionOf(root: Root, service: string, asObject: IConversionOptions = AS_OBJECT): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of root.lookupService(service).methodsArray) {
    method.resolve();
    const request = method.resolvedRequestType!;
    const response = method.resolvedResponseType!;
    definition[method.name] = {
      path: `/${service}/${method.name}`,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: serialize(request),
      requestDeserialize: deserialize(request, asObject),
      responseSerialize: serialize(response),
      responseDeserialize: deserialize(response, asObject),
    };
  }
  return definition;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

export type GenericClient = grpc.Client & Record<string, any>;

/** A grpc-js client at 127.0.0.1:port; closed at teardown. */
export function grpcJsClient(t: Teardown, port: number, options: grpc.ChannelOptions = {}, root: Root = echoRoot(), service = ECHO): GenericClient {
  const Client = grpc.makeGenericClientConstructor(definitionOf(root, service), service);
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options) as GenericClient;
  t.teardown(() => client.close());
  return client;
}

/** A grpc-js server for `service` on 127.0.0.1:0; force-shut at teardown. */
export async function grpcJsServer(
  t: Teardown,
  implementation: grpc.UntypedServiceImplementation,
  options: grpc.ServerOptions = {},
  root: Root = echoRoot(),
  service = ECHO,
): Promise<{ server: grpc.Server; port: number; url: string }> {
  const server = new grpc.Server(options);
  server.addService(definitionOf(root, service), implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  t.teardown(() => server.forceShutdown());
  return { server, port, url: `grpc://127.0.0.1:${port}` };
}

export interface UnaryOutcome<T = any> {
  error: grpc.ServiceError | undefined;
  value: T | undefined;
  header: grpc.Metadata | undefined;
  status: grpc.StatusObject | undefined;
}

/** A grpc-js unary call settled into its error or value, response headers and status. */
export function unaryCall<T = any>(client: GenericClient, method: string, request: object, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<UnaryOutcome<T>> {
  return new Promise((resolve) => {
    let header: grpc.Metadata | undefined;
    let status: grpc.StatusObject | undefined;
    let settled: { error: grpc.ServiceError | undefined; value: T | undefined } | undefined;
    const done = () => {
      if (settled && status) resolve({ ...settled, header, status });
    };
    const call: grpc.ClientUnaryCall = client[method](request, metadata, options, (error: grpc.ServiceError | null, value: T) => {
      settled = { error: error ?? undefined, value: error ? undefined : value };
      done();
    });
    call.on("metadata", (md) => (header = md));
    call.on("status", (s) => {
      status = s;
      done();
    });
  });
}

/** Every message of a grpc-js response stream, then its status (or its error). */
export function collect<T = any>(stream: grpc.ClientReadableStream<T> | grpc.ClientDuplexStream<unknown, T>): Promise<{ messages: T[]; error: grpc.ServiceError | undefined; status: grpc.StatusObject }> {
  return new Promise((resolve) => {
    const messages: T[] = [];
    let error: grpc.ServiceError | undefined;
    let ended = false;
    let status: grpc.StatusObject | undefined;
    // 'status' can come before the last 'data': wait for 'end' (or 'error') as well.
    const done = () => {
      if (status && (ended || error)) resolve({ messages, error, status });
    };
    stream.on("data", (m: T) => messages.push(m));
    stream.on("end", () => {
      ended = true;
      done();
    });
    stream.on("error", (e: grpc.ServiceError) => {
      error = e;
      done();
    });
    stream.on("status", (s: grpc.StatusObject) => {
      status = s;
      done();
    });
  });
}
