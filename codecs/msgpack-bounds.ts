// Checks a msgpack frame's declared sizes before msgpackr allocates for them.
//
// msgpackr makes an array of the declared length before it reads the elements, so a 43-byte frame
// declaring 16M elements would allocate 128 MB. Every element takes at least one byte, so in a
// real frame the elements declared by all containers together never outnumber its bytes, and
// no string, binary or ext runs past its end. One pass over the tokens checks both; msgpackr's
// record definitions (an ext, a key array, values) and references (one byte, then values) are
// ordinary token sequences, so the walk stays in step without knowing about them.
import { Code } from "../core/codes.js";
import { RpcError } from "../core/errors.js";

function refuse(detail: string): RpcError {
  return new RpcError(Code.INVALID_ARGUMENT, `rpc: malformed msgpack message: ${detail}`);
}

/**
 * For each type byte from 0xc0: the bytes after it when they are fixed (nil, bool, numbers,
 * fixext), or a code: -1 not a type, -2/-3/-4 a 1/2/4-byte length of bytes follows (bin, str),
 * -5/-6/-7 the same for ext (plus its type byte), -8/-9 a 2/4-byte element count (array),
 * -10/-11 a 2/4-byte pair count (map).
 */
const SIZES = new Int8Array(64);
SIZES.set([
  0, -1, 0, 0, -2, -3, -4, -5, -6, -7, 4, 8, 1, 2, 4, 8, // c0..cf
  1, 2, 4, 8, 2, 3, 5, 9, 17, -2, -3, -4, -8, -9, -10, -11, // d0..df
]);

/** One pass, no allocation: fast enough to run on every frame. */
export function checkMsgpackBounds(b: Uint8Array): void {
  const end = b.length;
  let pos = 0;
  let budget = end; // elements the frame could still hold
  while (pos < end) {
    const t = b[pos++]!;
    if (t <= 0x7f || t >= 0xe0) continue; // fixint (or a record reference)
    let n: number;
    if (t <= 0x8f) n = -2 * (t & 0x0f); // fixmap: elements, stored negative below
    else if (t <= 0x9f) n = -(t & 0x0f); // fixarray
    else if (t <= 0xbf) n = t & 0x1f; // fixstr
    else {
      const code = SIZES[t - 0xc0]!;
      if (code >= 0) n = code;
      else if (code === -1) throw refuse(`byte 0x${t.toString(16)} is not a msgpack type`);
      else {
        const width = code === -2 || code === -5 ? 1 : code === -3 || code === -6 || code === -8 || code === -10 ? 2 : 4;
        if (pos + width > end) throw refuse("truncated header");
        let v = 0;
        for (let i = 0; i < width; i++) v = v * 256 + b[pos++]!;
        if (code >= -4) n = v; // bin, str
        else if (code >= -7) n = v + 1; // ext: type byte, then data
        else if (code >= -9) n = -v; // array
        else n = -2 * v; // map
      }
    }
    if (n >= 0) {
      if (n > end - pos) throw refuse(`declares ${n} bytes with ${end - pos} left`);
      pos += n;
    } else {
      budget += n;
      if (budget < 0 || -n > end - pos) throw refuse(`declares ${-n} elements with ${end - pos} bytes left`);
    }
  }
}
