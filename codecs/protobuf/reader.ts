// A protobufjs Reader that refuses a string overrunning its message, as it does a bytes field.
import protobuf from "protobufjs";
import type { Reader } from "protobufjs";

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

/**
 * protobufjs's BufferReader (what Reader.create gives for a Node Buffer) clamps a string whose
 * declared length runs past the end instead of throwing, so a truncated frame could decode as
 * a shorter one. This reader checks the length as `bytes()` does (same RangeError), then
 * decodes in place (Buffer's utf8Slice where there is one, no intermediate slice). Decoders
 * pass the reader down to nested messages, so one override covers a whole decode.
 */
export function strictReader(bytes: Uint8Array): Reader {
  const r = protobuf.Reader.create(bytes);
  r.string = NodeBuffer && bytes instanceof NodeBuffer ? strictBufferString : strictString;
  return r;
}

function overrun(r: Reader, length: number): RangeError {
  return RangeError(`index out of range: ${r.pos} + ${length || 1} > ${r.len}`);
}

function strictBufferString(this: Reader): string {
  const length = this.uint32();
  const start = this.pos;
  const end = start + length;
  if (end > this.len) throw overrun(this, length);
  this.pos = end;
  if (length === 0) return "";
  return (this.buf as unknown as { utf8Slice(s: number, e: number): string }).utf8Slice(start, end);
}

function strictString(this: Reader): string {
  const length = this.uint32();
  const start = this.pos;
  const end = start + length;
  if (end > this.len) throw overrun(this, length);
  this.pos = end;
  if (length === 0) return "";
  return decoder.decode(this.buf.subarray(start, end));
}
