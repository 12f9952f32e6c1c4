// gRPC's status codes: one numbering for every transport, so errors keep their meaning across peers.

/** gRPC status codes (grpc/doc/statuscodes.md); the numbers are the wire values. */
export enum Code {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

/** True for a number that names a status code (0..16). */
export function isCode(value: unknown): value is Code {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 16;
}

/** The upper-case name of a code, e.g. "NOT_FOUND". */
export function codeName(code: Code): string {
  return Code[code] ?? `CODE_${code}`;
}
