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
  { id: "netrpc-server", name: "netrpc server (raw client)", server: "servers/netrpc.ts", client: "raw-json" },
  { id: "go", name: "go net/rpc/jsonrpc (raw client)", server: "go", client: "raw-json" },
  { id: "grpc", name: "@grpc/grpc-js unary", server: "servers/grpc.ts", client: "grpc" },
  { id: "netrpc-grpc", name: "netrpc grpc+protobuf (both ends)", server: "servers/netrpc.ts", client: "netrpc-grpc" },
  { id: "grpc-to-netrpc", name: "grpc-js client → netrpc server", server: "servers/netrpc.ts", client: "grpc" },
  { id: "netrpc-to-grpc", name: "netrpc client → grpc-js server", server: "servers/grpc.ts", client: "netrpc-grpc" },
];

export const ROW = {
  rawJson: "raw-json",
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
