// The raw Go-jsonrpc client (rows 2, 4, 5): JSON.stringify requests, JSON.parse replies, match by id.
import net from "node:net";
import { once } from "node:events";
import { BatchWriter, readLines } from "../lines.js";
import { EXPECTED, METHOD, PARAMS } from "../user.js";
import { expectEqual, type BenchClient } from "./client.js";

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

interface Reply {
  id?: unknown;
  result?: unknown;
  error?: unknown;
}

export async function connect(port: number): Promise<BenchClient> {
  const socket = net.connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.setNoDelay(true);
  const out = new BatchWriter(socket);
  const pending = new Map<number, Pending>();
  let seq = 0;
  let failure: Error | undefined;

  readLines(socket, (line) => {
    const reply = JSON.parse(line) as Reply;
    const p = pending.get(reply.id as number);
    if (!p) return;
    pending.delete(reply.id as number);
    if (reply.error != null) p.reject(new Error(String(reply.error)));
    else p.resolve(reply.result);
  });
  const fail = (e: Error) => {
    failure ??= e;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  socket.on("error", fail);
  socket.on("close", () => fail(new Error("connection closed")));

  return {
    call: () =>
      new Promise((resolve, reject) => {
        if (failure) return reject(failure);
        const id = ++seq;
        pending.set(id, { resolve, reject });
        out.write(JSON.stringify({ method: METHOD, params: [PARAMS], id }) + "\n");
      }),
    verify: (result) => expectEqual(result, EXPECTED),
    close: () => {
      socket.destroy();
    },
  };
}
