// Row 5's server: Go's net/rpc/jsonrpc, built and started by the test helper.
import { buildGo, goAvailable, startGoServer } from "../test/helpers/go.js";
import { onExit, type Running } from "./proc.js";

/** Builds the Go server once; resolves to undefined (and says why) when go is not on PATH. */
export async function prepareGo(): Promise<string | undefined> {
  if (!goAvailable()) return undefined;
  return buildGo("test/go/jsonrpc-server");
}

export async function startGo(bin: string): Promise<Running> {
  const server = await startGoServer(bin);
  const release = onExit(() => server.process.kill("SIGKILL"));
  return {
    port: server.port,
    pid: server.process.pid,
    stop: async () => {
      await server.close();
      release();
    },
  };
}
