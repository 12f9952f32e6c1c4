// Message bodies on HTTP/2, where the envelope is HTTP/2 itself: one codec per content-type subtype.
import { Packr, Unpackr } from "msgpackr";
import type { Type } from "protobufjs";
import { Code } from "../../core/codes.js";
import { RpcError } from "../../core/errors.js";
import type { Codec } from "../../core/codec.js";
import { checkMsgpackBounds } from "../../codecs/msgpack-bounds.js";
import { decodePayload, encodePayload } from "../../codecs/protobuf/payload.js";
import type { ProtobufCodec } from "../../codecs/protobuf/index.js";

/** The request and response bodies of one method. Encoders throw plain Errors; decoders too. */
export interface MethodMessages {
  encodeRequest(value: unknown): Uint8Array;
  decodeRequest(bytes: Uint8Array): unknown;
  encodeResponse(value: unknown): Uint8Array;
  decodeResponse(bytes: Uint8Array): unknown;
}

export interface MessageCodec {
  /** The content-type this codec answers to: "application/grpc" for protobuf, "application/grpc+json", ... */
  readonly contentType: string;
  /** The codec's name ("protobuf", "json", "msgpack"). */
  readonly name: string;
  /** The bodies of `method` ("pkg.Service.Method"), or a reason it has none. */
  forMethod(method: string): MethodMessages | string;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

function jsonEncode(value: unknown): Uint8Array {
  const text = JSON.stringify(value === undefined ? null : value);
  return encoder.encode(text);
}

function jsonDecode(bytes: Uint8Array): unknown {
  return bytes.length === 0 ? null : JSON.parse(utf8.decode(bytes));
}

const JSON_MESSAGES: MethodMessages = { encodeRequest: jsonEncode, decodeRequest: jsonDecode, encodeResponse: jsonEncode, decodeResponse: jsonDecode };

function msgpackMessages(): MethodMessages {
  // Each message stands alone on HTTP/2 (streams are not ordered with each other), so no records.
  const packr = new Packr({ useRecords: false, useBigIntExtension: true });
  const unpackr = new Unpackr({ useRecords: false, useBigIntExtension: true });
  const encode = (value: unknown): Uint8Array => packr.pack(value);
  const decode = (bytes: Uint8Array): unknown => {
    if (bytes.length === 0) return null;
    checkMsgpackBounds(bytes);
    return unpackr.unpack(bytes);
  };
  return { encodeRequest: encode, decodeRequest: decode, encodeResponse: encode, decodeResponse: decode };
}

function protobufMessages(codec: ProtobufCodec): MessageCodec {
  const cache = new Map<string, MethodMessages>();
  const message = (type: Type) => ({
    encode: (value: unknown) => encodePayload(type, value),
    decode: (bytes: Uint8Array) => decodePayload(type, bytes, codec.longs),
  });
  return {
    contentType: "application/grpc",
    name: "protobuf",
    forMethod(method) {
      let found = cache.get(method);
      if (found) return found;
      const md = codec.methods.get(method);
      if (!md) return `rpc: grpc: no protobuf descriptor for ${method} (load its .proto, or use application/grpc+json)`;
      const req = message(md.requestType);
      const res = message(md.responseType);
      found = { encodeRequest: req.encode, decodeRequest: req.decode, encodeResponse: res.encode, decodeResponse: res.decode };
      cache.set(method, found);
      return found;
    },
  };
}

/** The HTTP/2 message codec of a netrpc codec. */
export function messageCodec(codec: Codec): MessageCodec {
  switch (codec.name) {
    case "protobuf":
      return protobufMessages(codec as ProtobufCodec);
    case "json":
      return { contentType: "application/grpc+json", name: "json", forMethod: () => JSON_MESSAGES };
    case "msgpack": {
      const messages = msgpackMessages();
      return { contentType: "application/grpc+msgpack", name: "msgpack", forMethod: () => messages };
    }
    default:
      throw new RpcError(Code.INVALID_ARGUMENT, `rpc: grpc: codec ${codec.name} has no HTTP/2 message format`);
  }
}

/**
 * The codec name a content-type asks for: application/grpc and application/grpc+proto are
 * protobuf; undefined when it is not gRPC at all.
 */
export function codecNameOf(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const bare = contentType.split(";")[0]!.trim().toLowerCase();
  if (bare === "application/grpc" || bare === "application/grpc+proto") return "protobuf";
  if (!bare.startsWith("application/grpc+")) return undefined;
  return bare.slice("application/grpc+".length);
}
