// Call metadata: string keys to string values (or lists of them), as gRPC's ASCII headers.
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";

/** Metadata keys are lower-case; a value may repeat, hence the array form. */
export type Metadata = Record<string, string | string[]>;

const KEY = /^[0-9a-z_.-]+$/;

/**
 * Copies untrusted metadata into a fresh null-prototype object, checking every key and value.
 * Throws INVALID_ARGUMENT naming the first bad entry.
 */
export function readMetadata(value: unknown): Metadata {
  const out: Metadata = Object.create(null) as Metadata;
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
