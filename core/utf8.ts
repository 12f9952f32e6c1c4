// UTF-8 decoding that uses Buffer's fast path on Node and TextDecoder elsewhere (browsers).
// ignoreBOM: a leading U+FEFF is part of the text, as Buffer.toString keeps it.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

export function decodeUtf8(bytes: Uint8Array): string {
  if (NodeBuffer && bytes instanceof NodeBuffer) return bytes.toString("utf8");
  return decoder.decode(bytes);
}
