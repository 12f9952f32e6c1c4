// A protobufjs Reader that refuses a string overrunning its message, as it does a bytes field.
import protobuf from "protobufjs";
import type { Reader } from "protobufjs";
import { decodeUtf8 } from "../../core/utf8.js";

/**
 * protobufjs's BufferReader (what Reader.create gives for a Node Buffer) clamps a string whose
 * declared length runs past the end instead of throwing, so a truncated frame could decode as
 * a shorter one. This reader checks the length as `bytes()` does, then decodes with Buffer's
 * fast path where there is one. Decoders pass the reader down to nested messages, so one
 * override covers a whole decode.
 */
export function strictReader(bytes: Uint8Array): Reader {
  const r = protobuf.Reader.create(bytes);
  r.string = strictString;
  return r;
}

function strictString(this: Reader): string {
  return decodeUtf8(this.bytes());
}
