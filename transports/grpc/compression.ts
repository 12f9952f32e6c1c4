// Message compression: gzip and identity, as grpc-encoding names them.
import zlib from "node:zlib";
import { Code } from "../../core/codes.js";
import { RpcError } from "../../core/errors.js";

/** What we can read and write, in order of preference, for grpc-accept-encoding. */
export const ACCEPT_ENCODING = "identity,gzip";
export type Encoding = "identity" | "gzip";

export function isSupportedEncoding(name: string): name is Encoding {
  return name === "identity" || name === "gzip";
}

/** True when a grpc-accept-encoding header lists gzip. */
export function acceptsGzip(header: string | undefined): boolean {
  return header !== undefined && header.split(",").some((e) => e.trim() === "gzip");
}

export function compress(data: Uint8Array): Uint8Array {
  return zlib.gzipSync(data);
}

/**
 * Inflates a message, refusing to produce more than `max` bytes: a small compressed message must
 * not expand past the receive limit (a zip bomb).
 */
export function decompress(data: Uint8Array, encoding: string | undefined, max: number): Uint8Array {
  if (encoding !== "gzip") {
    throw new RpcError(Code.INTERNAL, `rpc: grpc: a compressed message arrived with grpc-encoding ${JSON.stringify(encoding ?? "identity")}`);
  }
  try {
    return zlib.gunzipSync(data, { maxOutputLength: max });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      throw new RpcError(Code.RESOURCE_EXHAUSTED, `rpc: grpc: decompressed message larger than max (${max})`);
    }
    throw new RpcError(Code.INTERNAL, `rpc: grpc: cannot decompress message: ${(err as Error).message}`, { cause: err });
  }
}
