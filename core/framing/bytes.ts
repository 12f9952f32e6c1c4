// Joining byte chunks, for framers that assemble a message from pieces.

/** The chunks as one array of `length` bytes; a single chunk is returned as it is. */
export function joinBytes(parts: readonly Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
