// HTTP/2 headers <-> call metadata, grpc-message percent-encoding, and HTTP status -> gRPC code.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http2";
import { Code } from "../../core/codes.js";
import { RpcError } from "../../core/errors.js";
import { isBinaryKey, type Metadata, type MetadataValue } from "../../core/metadata.js";

/** Headers the protocol owns; metadata may not set them. */
const RESERVED = new Set(["content-type", "te", "host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "user-agent"]);

export function isReservedHeader(key: string): boolean {
  return key.startsWith(":") || key.startsWith("grpc-") || RESERVED.has(key);
}

/** Adds metadata to outgoing headers; throws `code` naming a reserved key. -bin values go as base64. */
export function putMetadata(headers: OutgoingHttpHeaders, md: Metadata | undefined, code: Code): void {
  if (!md) return;
  for (const key in md) {
    if (isReservedHeader(key)) throw new RpcError(code, `rpc: grpc: metadata key ${JSON.stringify(key)} is reserved`);
    const v = md[key]!;
    const one = (x: MetadataValue): string => (typeof x === "string" ? x : Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString("base64"));
    headers[key] = Array.isArray(v) ? v.map(one) : one(v);
  }
}

/**
 * Metadata from incoming headers: the protocol's own headers left out, -bin values decoded.
 * With `raw` (the header fields as received, name then value), a key sent more than once keeps
 * each value apart; the header object has them joined with ", ".
 */
export function readHeaders(headers: IncomingHttpHeaders, keep: ReadonlySet<string> = NONE, raw?: readonly string[]): Metadata {
  const md = Object.create(null) as Metadata;
  const add = (key: string, values: readonly string[]) => {
    if (isReservedHeader(key) && !keep.has(key)) return;
    if (!isBinaryKey(key)) {
      const prior = md[key];
      const all = prior === undefined ? [...values] : [...(Array.isArray(prior) ? prior : [prior]), ...values] as string[];
      md[key] = all.length === 1 ? all[0]! : all;
      return;
    }
    // Repeated binary values may also arrive joined with commas, which base64 never contains.
    const parts = values.flatMap((s) => s.split(",")).map((s) => Buffer.from(s.trim(), "base64"));
    const prior = md[key];
    const all = prior === undefined ? parts : [...(Array.isArray(prior) ? prior : [prior]), ...parts];
    md[key] = all.length === 1 ? all[0]! : all;
  };
  if (raw) {
    for (let i = 0; i + 1 < raw.length; i += 2) add(raw[i]!.toLowerCase(), [raw[i + 1]!]);
    return md;
  }
  for (const key in headers) {
    const v = headers[key];
    if (v === undefined) continue;
    add(key, Array.isArray(v) ? v : [v]);
  }
  return md;
}

const NONE: ReadonlySet<string> = new Set();
/** The server shows a client's user-agent to handlers, as grpc-go does. */
export const KEEP_USER_AGENT: ReadonlySet<string> = new Set(["user-agent"]);

/** Percent-encodes a status message: bytes outside printable ASCII, and '%', as %XX of their UTF-8. */
export function encodeMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x25 ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(byte);
  }
  return out;
}

/** Decodes %XX sequences as UTF-8; a malformed sequence is kept as written, as the spec asks. */
export function decodeMessage(value: string): string {
  if (!value.includes("%")) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25 && i + 2 < value.length && /^[0-9a-fA-F]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(value[i]!, "utf8"));
  }
  return Buffer.from(bytes).toString("utf8");
}

/** The code a client reports for an HTTP reply without grpc-status (http-grpc-status-mapping.md). */
export function codeForHttpStatus(status: number): Code {
  switch (status) {
    case 400:
    case 431:
      return Code.INTERNAL;
    case 401:
      return Code.UNAUTHENTICATED;
    case 403:
      return Code.PERMISSION_DENIED;
    case 404:
      return Code.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Code.UNAVAILABLE;
    default:
      return Code.UNKNOWN;
  }
}

/** One header's value as a single string (the first, when repeated). */
export function headerValue(headers: IncomingHttpHeaders, key: string): string | undefined {
  const v = headers[key];
  return Array.isArray(v) ? v[0] : v;
}
