// The rows of the table: which server process and which client each one pairs.
export interface Row {
  /** Short name for --only. */
  id: string;
  name: string;
  /** A server script relative to bench/, or "go" for the Go reference server. */
  server: string;
  /** A client name known to clients/main.ts. */
  client: string;
}

export const ROWS: readonly Row[] = [
  { id: "raw-echo", name: "raw-echo", server: "servers/raw-echo.ts", client: "raw-echo" },
  { id: "raw-json", name: "raw-json", server: "servers/raw-json.ts", client: "raw-json" },
  { id: "netrpc", name: "netrpc tcp+json", server: "servers/netrpc.ts", client: "netrpc" },
  { id: "netrpc-msgpack", name: "netrpc tcp+msgpack", server: "servers/netrpc.ts", client: "netrpc-msgpack" },
  { id: "netrpc-protobuf", name: "netrpc tcp+protobuf", server: "servers/netrpc.ts", client: "netrpc-protobuf" },
  { id: "raw-ws", name: "raw-ws", server: "servers/raw-ws.ts", client: "raw-ws" },
  { id: "netrpc-ws", name: "netrpc ws+json", server: "servers/netrpc.ts", client: "netrpc-ws" },
  { id: "netrpc-ws-msgpack", name: "netrpc ws+msgpack", server: "servers/netrpc.ts", client: "netrpc-ws-msgpack" },
  { id: "netrpc-server", name: "netrpc server (raw client)", server: "servers/netrpc.ts", client: "raw-json" },
  { id: "go", name: "go net/rpc/jsonrpc (raw client)", server: "go", client: "raw-json" },
  { id: "grpc", name: "@grpc/grpc-js unary", server: "servers/grpc.ts", client: "grpc" },
  { id: "netrpc-grpc", name: "netrpc grpc+protobuf (both ends)", server: "servers/netrpc.ts", client: "netrpc-grpc" },
  { id: "grpc-to-netrpc", name: "grpc-js client → netrpc server", server: "servers/netrpc.ts", client: "grpc" },
  { id: "netrpc-to-grpc", name: "netrpc client → grpc-js server", server: "servers/grpc.ts", client: "netrpc-grpc" },
];

/**
 * The streams table: one-way messages/s, one server-streaming call at a time on one connection
 * (clients/stream.ts runs a row's cell). The client names are clients/stream.ts's.
 */
export const STREAM_ROWS: readonly Row[] = [
  { id: "raw-ws-stream", name: "raw-ws one-way", server: "servers/raw-ws.ts", client: "raw-ws" },
  { id: "netrpc-ws-stream", name: "netrpc ws+json", server: "servers/netrpc.ts", client: "netrpc-ws" },
  { id: "netrpc-ws-msgpack-stream", name: "netrpc ws+msgpack", server: "servers/netrpc.ts", client: "netrpc-ws-msgpack" },
  { id: "netrpc-stream", name: "netrpc tcp+json", server: "servers/netrpc.ts", client: "netrpc" },
  { id: "netrpc-msgpack-stream", name: "netrpc tcp+msgpack", server: "servers/netrpc.ts", client: "netrpc-msgpack" },
];

export const ROW = {
  rawJson: "raw-json",
  rawWs: "raw-ws",
  netrpcWs: "netrpc-ws",
  netrpcWsMsgpack: "netrpc-ws-msgpack",
  netrpc: "netrpc",
  netrpcMsgpack: "netrpc-msgpack",
  netrpcProtobuf: "netrpc-protobuf",
  netrpcServer: "netrpc-server",
  go: "go",
  grpc: "grpc",
  netrpcGrpc: "netrpc-grpc",
  grpcToNetrpc: "grpc-to-netrpc",
  netrpcToGrpc: "netrpc-to-grpc",
} as const;
