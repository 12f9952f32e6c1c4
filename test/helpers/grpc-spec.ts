// Tables from gRPC's public documents that more than one test checks against.
import { Code } from "../../index.js";

/** The cases of interop-test-descriptions.md that the interop client must run. */
export const INTEROP_CASES = [
  "empty_unary",
  "large_unary",
  "client_streaming",
  "server_streaming",
  "ping_pong",
  "empty_stream",
  "timeout_on_sleeping_server",
  "cancel_after_begin",
  "cancel_after_first_response",
  "status_code_and_message",
  "special_status_message",
  "unimplemented_method",
  "unimplemented_service",
  "custom_metadata",
  "client_compressed_unary",
  "server_compressed_unary",
] as const;

/** http-grpc-status-mapping.md: the code for an HTTP reply without grpc-status (any other status is UNKNOWN). */
export const HTTP_STATUS_CODES: ReadonlyArray<readonly [number, Code]> = [
  [400, Code.INTERNAL],
  [401, Code.UNAUTHENTICATED],
  [403, Code.PERMISSION_DENIED],
  [404, Code.UNIMPLEMENTED],
  [429, Code.UNAVAILABLE],
  [431, Code.INTERNAL],
  [502, Code.UNAVAILABLE],
  [503, Code.UNAVAILABLE],
  [504, Code.UNAVAILABLE],
  [200, Code.UNKNOWN],
  [500, Code.UNKNOWN],
];
