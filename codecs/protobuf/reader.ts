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
  // On Node, read through a Buffer (frames from a socket already are one), so bytes fields come out as Buffers.
  const r = protobuf.Reader.create(NodeBuffer && !(bytes instanceof NodeBuffer) ? NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.length) : bytes);
  r.string = strictString;
  return r;
}

export function overrun(r: Reader, length: number): RangeError {
  return RangeError(`index out of range: ${r.pos} + ${length || 1} > ${r.len}`);
}

/** ASCII strings up to this many bytes are built in JS: cheaper than a call into native code. */
const SHORT = 32;

/**
 * fromAscii[n](buf, at): the n bytes at `at` as a string, by one String.fromCharCode call with n
 * arguments (no intermediate strings, no native decoder call); the bytes must be ASCII.
 */
const fromAscii = Array.from(
  { length: SHORT + 1 },
  (_, n) => new Function("b", "at", `return String.fromCharCode(${Array.from({ length: n }, (_, i) => `b[at + ${i}]`).join(", ")});`) as (buf: Uint8Array, at: number) => string,
);

/** The UTF-8 text of buf[start, end), as Buffer's utf8Slice or TextDecoder would give it (U+FFFD for bad bytes). */
export function utf8At(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= SHORT) {
    for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return slow(buf, start, end);
    return fromAscii[end - start]!(buf, start);
  }
  return slow(buf, start, end);
}

// Buffer's utf8Slice decodes in place, without the subarray TextDecoder needs; it takes any Uint8Array.
const utf8Slice = (NodeBuffer?.prototype as unknown as { utf8Slice?: (this: Uint8Array, s: number, e: number) => string } | undefined)?.utf8Slice;

function slow(buf: Uint8Array, start: number, end: number): string {
  return utf8Slice ? utf8Slice.call(buf, start, end) : decoder.decode(buf.subarray(start, end));
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
