// A real @grpc/grpc-js client for any protobufjs service: grpc-js's generic client with
// protobufjs doing the (de)serializing, so no generated code and no proto-loader.
import * as grpc from "@grpc/grpc-js";
import type { Root } from "protobufjs";
import { definitionOf } from "./grpcjs.js";

/** toObject as our handlers see messages: enums by name, defaults present, oneof members named. */
const AS_HANDLERS_SEE = { enums: String, longs: String, defaults: true, arrays: true, objects: true, oneofs: true } as const;

/** A grpc-js client for `service` (full name) of `root` at host:port, closed at teardown. */
export function grpcJsClient(t: { teardown(fn: () => unknown): void }, root: Root, service: string, address: string): grpc.Client & Record<string, Function> {
  const definition = definitionOf(root, service, AS_HANDLERS_SEE);
  const Client = grpc.makeGenericClientConstructor(definition, service);
  const client = new Client(address, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
  t.teardown(() => client.close());
  return client;
}

/** The next `count` messages of a response stream (fails on error or early end; bounded by the caller). */
export function takeMessages<T>(stream: grpc.ClientReadableStream<T> | grpc.ClientDuplexStream<unknown, T>, count: number): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const got: T[] = [];
    const onData = (message: T): void => {
      got.push(message);
      if (got.length === count) {
        cleanup();
        resolve(got);
      }
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error(`stream ended after ${got.length} of ${count} messages`));
    };
    const cleanup = (): void => {
      stream.off("data", onData);
      stream.off("error", onError);
      stream.off("end", onEnd);
      stream.pause();
    };
    stream.on("data", onData);
    stream.on("error", onError);
    stream.on("end", onEnd);
    stream.resume();
  });
}

/** Settles when the stream fails, with its gRPC status code. */
export function streamError(stream: grpc.ClientReadableStream<unknown> | grpc.ClientDuplexStream<unknown, unknown>): Promise<grpc.ServiceError> {
  return new Promise((resolve) => stream.once("error", (err: grpc.ServiceError) => resolve(err)));
}
