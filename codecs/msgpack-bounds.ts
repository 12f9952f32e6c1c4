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

/** Fixed payload sizes after the type byte, for the types whose size does not depend on the data. */
const FIXED: Record<number, number> = {
  0xc0: 0, 0xc2: 0, 0xc3: 0, // nil, false, true
  0xca: 4, 0xcb: 8, // float 32/64
  0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, // uint 8..64
  0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8, // int 8..64
  0xd4: 2, 0xd5: 3, 0xd6: 5, 0xd7: 9, 0xd8: 17, // fixext 1..16 (type byte + data)
};

export function checkMsgpackBounds(b: Uint8Array): void {
  const end = b.length;
  let pos = 0;
  let budget = end; // elements the frame could still hold
  const uint = (size: number): number => {
    if (pos + size > end) throw refuse("truncated header");
    let n = 0;
    for (let i = 0; i < size; i++) n = n * 256 + b[pos++]!;
    return n;
  };
  const skip = (n: number): void => {
    if (n > end - pos) throw refuse(`declares ${n} bytes with ${end - pos} left`);
    pos += n;
  };
  const elements = (n: number): void => {
    budget -= n;
    if (budget < 0 || n > end - pos) throw refuse(`declares ${n} elements with ${end - pos} bytes left`);
  };
  while (pos < end) {
    const t = b[pos++]!;
    if (t <= 0x7f || t >= 0xe0) continue; // fixint (or a record reference)
    if (t <= 0x8f) elements(2 * (t & 0x0f)); // fixmap
    else if (t <= 0x9f) elements(t & 0x0f); // fixarray
    else if (t <= 0xbf) skip(t & 0x1f); // fixstr
    else if (t in FIXED) skip(FIXED[t]!);
    else if (t === 0xc4 || t === 0xd9) skip(uint(1)); // bin 8, str 8
    else if (t === 0xc5 || t === 0xda) skip(uint(2));
    else if (t === 0xc6 || t === 0xdb) skip(uint(4));
    else if (t === 0xc7) skip(uint(1) + 1); // ext 8: length, type, data
    else if (t === 0xc8) skip(uint(2) + 1);
    else if (t === 0xc9) skip(uint(4) + 1);
    else if (t === 0xdc) elements(uint(2)); // array 16/32
    else if (t === 0xdd) elements(uint(4));
    else if (t === 0xde) elements(2 * uint(2)); // map 16/32
    else if (t === 0xdf) elements(2 * uint(4));
    else throw refuse(`byte 0x${t.toString(16)} is not a msgpack type`);
  }
}
