// Two in-memory Duplex streams wired back to back (node:stream's duplexPair arrives only in Node 22).
import { Duplex, PassThrough } from "node:stream";

export function duplexPair(): [Duplex, Duplex] {
  const aToB = new PassThrough();
  const bToA = new PassThrough();
  const a = Duplex.from({ readable: bToA, writable: aToB });
  const b = Duplex.from({ readable: aToB, writable: bToA });
  return [a, b];
}
