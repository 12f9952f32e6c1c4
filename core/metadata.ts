// Call metadata: lower-case keys to text values, or bytes under keys ending in -bin, as gRPC's headers.
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";

/** Text, or bytes for a key ending in "-bin". */
export type MetadataValue = string | Uint8Array;

/** Metadata keys are lower-case; a value may repeat, hence the array form. */
export type Metadata = Record<string, MetadataValue | MetadataValue[]>;

/** Metadata as stream codecs carry it: binary values as base64 text. */
export type TextMetadata = Record<string, string | string[]>;

const KEY = /^[0-9a-z_.-]+$/;

/**
 * Copies untrusted metadata into a fresh null-prototype object, checking every key and value.
 * Throws INVALID_ARGUMENT naming the first bad entry.
 */
export function readMetadata(value: unknown): TextMetadata {
  const out: TextMetadata = Object.create(null) as TextMetadata;
  if (value === undefined || value === null) return out;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new RpcError(Code.INVALID_ARGUMENT, "rpc: metadata must be an object of strings");
  }
  for (const [key, v] of Object.entries(value)) {
    if (!KEY.test(key)) throw new RpcError(Code.INVALID_ARGUMENT, `rpc: metadata key ${JSON.stringify(key)} must match [0-9a-z_.-]+`);
    if (typeof v === "string") out[key] = v;
    else if (Array.isArray(v) && v.every((s) => typeof s === "string")) out[key] = v.slice();
    else throw new RpcError(Code.INVALID_ARGUMENT, `rpc: metadata value of ${key} must be a string or an array of strings`);
  }
  return out;
}

/** True when there is at least one entry, so codecs can leave the member out. */
export function hasMetadata(md: Metadata | undefined): md is Metadata {
  if (!md) return false;
  for (const _ in md) return true;
  return false;
}

/** True for keys whose values are bytes ("trace-bin"), as gRPC's binary headers. */
export function isBinaryKey(key: string): boolean {
  return key.endsWith("-bin");
}

const VALUE_OK = (key: string, v: unknown): v is MetadataValue => (isBinaryKey(key) ? v instanceof Uint8Array || typeof v === "string" : typeof v === "string");

/**
 * Checks a caller's metadata: keys [0-9a-z_.-]+, text values, Uint8Array (or base64 text) values
 * under -bin keys. Returns a fresh null-prototype copy; throws INVALID_ARGUMENT naming the entry.
 */
export function checkMetadata(value: unknown): Metadata {
  const out: Metadata = Object.create(null) as Metadata;
  if (value === undefined || value === null) return out;
  if (typeof value !== "object" || Array.isArray(value)) throw new RpcError(Code.INVALID_ARGUMENT, "rpc: metadata must be an object");
  for (const [key, v] of Object.entries(value)) {
    if (!KEY.test(key)) throw new RpcError(Code.INVALID_ARGUMENT, `rpc: metadata key ${JSON.stringify(key)} must match [0-9a-z_.-]+`);
    if (VALUE_OK(key, v)) out[key] = v;
    else if (Array.isArray(v) && v.every((x) => VALUE_OK(key, x))) out[key] = v.slice();
    else {
      const want = isBinaryKey(key) ? "a Uint8Array or an array of them" : "a string or an array of strings";
      throw new RpcError(Code.INVALID_ARGUMENT, `rpc: metadata value of ${key} must be ${want}`);
    }
  }
  return out;
}

// Buffer where there is one (Node: fast, native); browsers have only btoa/atob, on "binary strings".
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

function base64Encode(v: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
  let binary = "";
  // In slices: spreading a large array into fromCharCode would overflow the call stack.
  for (let i = 0; i < v.length; i += 0x8000) binary += String.fromCharCode(...v.subarray(i, i + 0x8000));
  return btoa(binary);
}

function base64Decode(v: string): Uint8Array {
  if (NodeBuffer) return NodeBuffer.from(v, "base64");
  // As lenient as Buffer: the URL-safe alphabet too, stray characters and padding ignored, and a
  // lone trailing character (no whole byte) dropped, where atob would throw.
  let clean = v.replace(/-/g, "+").replace(/_/g, "/").replace(/[^A-Za-z0-9+/]/g, "");
  if (clean.length % 4 === 1) clean = clean.slice(0, -1);
  const binary = atob(clean);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

const toText = (v: MetadataValue): string => (typeof v === "string" ? v : base64Encode(v));
const toBytes = (v: string): Uint8Array => base64Decode(v);

/** Binary values as base64 text, for codecs that carry only text. */
export function metadataAsText(md: Metadata): TextMetadata {
  let out: TextMetadata | undefined;
  for (const key in md) {
    const v = md[key]!;
    if (typeof v === "string" || (Array.isArray(v) && v.every((x) => typeof x === "string"))) continue;
    out ??= { ...(md as TextMetadata) };
    out[key] = Array.isArray(v) ? v.map(toText) : toText(v);
  }
  return out ?? (md as TextMetadata);
}

/** The inverse of metadataAsText: values under -bin keys become bytes again. */
export function metadataFromText(md: TextMetadata): Metadata {
  let out: Metadata | undefined;
  for (const key in md) {
    if (!isBinaryKey(key)) continue;
    out ??= Object.assign(Object.create(null) as Metadata, md);
    const v = md[key]!;
    out[key] = Array.isArray(v) ? v.map(toBytes) : toBytes(v);
  }
  return out ?? md;
}
