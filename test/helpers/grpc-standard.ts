// Helpers for the standard gRPC services' suites: a hand-made call context, a request stream
// the test feeds, and reading the FileDescriptorProtos reflection returns.
import protobuf from "protobufjs";
import descriptor from "protobufjs/ext/descriptor/index.js";
import type { Root } from "protobufjs";
import { CallContext } from "../../core/context.js";
import { RpcError } from "../../core/errors.js";
import { Code } from "../../core/codes.js";

/** A server-side context as a transport would make it; `cancel()` ends the call as a client hang-up does. */
export function handContext(method: string): CallContext & { cancel(): void } {
  const ctx = new CallContext(method, {}) as CallContext & { cancel(): void };
  ctx.cancel = () => ctx._abort(new RpcError(Code.CANCELLED, "rpc: call cancelled by the client"));
  return ctx;
}

/** An AsyncIterable of requests the test pushes one at a time, then ends. */
export class RequestStream<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #ended = false;
  #wake: (() => void) | undefined;

  push(item: T): void {
    this.#items.push(item);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      if (this.#items.length > 0) {
        yield this.#items.shift()!;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}

/** A decoded google.protobuf.FileDescriptorProto, as plain data (camelCase, as protobufjs's descriptor types name fields). */
export interface FileProto {
  name: string;
  package?: string;
  dependency?: string[];
  messageType?: Array<{ name: string; field?: Array<{ name: string; number: number; type: number; label: number; typeName?: string; oneofIndex?: number; proto3Optional?: boolean }>; nestedType?: Array<{ name: string; options?: { mapEntry?: boolean } }>; oneofDecl?: Array<{ name: string }> }>;
  enumType?: Array<{ name: string; value?: Array<{ name: string; number: number }> }>;
  service?: Array<{ name: string; method?: Array<{ name: string; inputType: string; outputType: string; clientStreaming?: boolean; serverStreaming?: boolean }> }>;
  extension?: Array<{ name: string; number: number; extendee: string }>;
  syntax?: string;
}

/** Decodes serialized FileDescriptorProtos. */
export function decodeFiles(files: readonly Uint8Array[]): FileProto[] {
  return files.map((bytes) => descriptor.FileDescriptorProto.toObject(descriptor.FileDescriptorProto.decode(bytes)) as FileProto);
}

/** A Root rebuilt from serialized FileDescriptorProtos alone, as a reflection client would. */
export function rootFromFiles(files: readonly Uint8Array[]): Root {
  const set = { file: files.map((bytes) => descriptor.FileDescriptorProto.decode(bytes)) };
  return (protobuf.Root as unknown as { fromDescriptor(set: unknown): Root }).fromDescriptor(set);
}
