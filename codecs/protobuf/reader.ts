// A protobufjs Reader that refuses a string overrunning its message, as it does a bytes field.
import protobuf from "protobufjs";
import type { Reader } from "protobufjs";

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

/**
 * protobufjs's BufferReader (what Reader.create gives for a Node Buffer) clamps a string whose
 * declared length runs past the end instead of throwing, so a truncated frame could decode as
 * a shorter one. This reader checks the length as `bytes()` does (same RangeError), then
 * decodes in place (utf8At, no intermediate slice). Decoders
 * pass the reader down to nested messages, so one override covers a whole decode.
 */
export function strictReader(bytes: Uint8Array): Reader {
  const r = protobuf.Reader.create(bytes);
  r.string = strictString;
  return r;
}

export function overrun(r: Reader, length: number): RangeError {
  return RangeError(`index out of range: ${r.pos} + ${length || 1} > ${r.len}`);
}

/** Strings this short are built in JS when they are ASCII: cheaper than a call into native code. */
const SHORT = 4;

/** The UTF-8 text of buf[start, end), as Buffer's utf8Slice or TextDecoder would give it (U+FFFD for bad bytes). */
export function utf8At(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= SHORT) {
    let s = "";
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c >= 0x80) return slow(buf, start, end);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return slow(buf, start, end);
}

function slow(buf: Uint8Array, start: number, end: number): string {
  // Buffer's utf8Slice decodes in place, without the subarray TextDecoder needs.
  if (NodeBuffer && buf instanceof NodeBuffer) return (buf as unknown as { utf8Slice(s: number, e: number): string }).utf8Slice(start, end);
  return decoder.decode(buf.subarray(start, end));
}

/** Reader.string, refusing a length that runs past the end. */
function strictString(this: Reader): string {
  const length = this.uint32();
  const start = this.pos;
  const end = start + length;
  if (end > this.len) throw overrun(this, length);
  this.pos = end;
  return length === 0 ? "" : utf8At(this.buf, start, end);
}
