// What netrpc over WebSocket agrees on: subprotocol names and close codes. Browser-safe: no node: imports.
//
// One WebSocket message is one envelope of the codec the subprotocol names ("netrpc.msgpack"):
// text messages for JSON, binary for the binary codecs. No NRPC preface: the handshake chose.

/** Subprotocols are "netrpc." + the codec's name. */
export const SUBPROTOCOL_PREFIX = "netrpc.";

export function subprotocolOf(codecName: string): string {
  return SUBPROTOCOL_PREFIX + codecName;
}

/** The codec a subprotocol names, or undefined for one that is not ours. */
export function codecNameOf(subprotocol: string): string | undefined {
  return subprotocol.startsWith(SUBPROTOCOL_PREFIX) && subprotocol.length > SUBPROTOCOL_PREFIX.length ? subprotocol.slice(SUBPROTOCOL_PREFIX.length) : undefined;
}

/** JSON travels as text messages; every other codec as binary. */
export function isTextCodec(codecName: string): boolean {
  return codecName === "json";
}

/** Close codes (RFC 6455 section 7.4.1) and what netrpc means by them. */
export const CloseCode = {
  /** The connection did what it was for: a client's close(), a server's graceful end. */
  NORMAL: 1000,
  /** The server is shutting down or closed, or the endpoint was detached. */
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  /** A text message on a binary codec's connection, or binary on JSON's. */
  UNSUPPORTED_DATA: 1003,
  /** Sent by nobody: the connection ended without a close frame (a lost peer, a terminate). */
  ABNORMAL: 1006,
  /** A message the codec could not read. */
  INVALID_DATA: 1007,
  /** A limit other than the message size (too many msgpack records, ...). */
  POLICY: 1008,
  /** A message larger than maxMessageSize. */
  TOO_BIG: 1009,
  /** The server failed (a reply it could not encode). */
  INTERNAL: 1011,
} as const;

/** The longest close reason a close frame carries, in UTF-8 bytes. */
const MAX_REASON = 123;
const encoder = new TextEncoder();

/** `text` cut (at a character boundary) to fit a close frame. */
export function closeReason(text: string): string {
  if (text.length * 3 <= MAX_REASON || encoder.encode(text).length <= MAX_REASON) return text;
  let out = "";
  let size = 0;
  for (const ch of text) {
    const n = encoder.encode(ch).length;
    if (size + n > MAX_REASON - 3) break;
    out += ch;
    size += n;
  }
  return `${out}...`;
}
