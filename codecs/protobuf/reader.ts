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

/** A Reader.string that refuses a length running past the end, decoding with `decode`. */
function strictStringWith(decode: (buf: Uint8Array, start: number, end: number) => string) {
  return function (this: Reader): string {
    const length = this.uint32();
    const start = this.pos;
    const end = start + length;
    if (end > this.len) throw overrun(this, length);
    this.pos = end;
    return length === 0 ? "" : decode(this.buf, start, end);
  };
}

// Buffer's utf8Slice decodes in place, without the subarray TextDecoder needs.
const strictBufferString = strictStringWith((buf, start, end) => (buf as unknown as { utf8Slice(s: number, e: number): string }).utf8Slice(start, end));
const strictString = strictStringWith((buf, start, end) => decoder.decode(buf.subarray(start, end)));
