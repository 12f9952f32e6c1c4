// Ceiling row 1's client: sends one pre-encoded request line per call, resolves calls in order per reply line.
import net from "node:net";
import { once } from "node:events";
import { countLines, RepeatWriter } from "../lines.js";
import { requestLine } from "../user.js";
import type { BenchClient } from "./client.js";

export async function connect(port: number): Promise<BenchClient> {
  const socket = net.connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.setNoDelay(true);
  const out = new RepeatWriter(socket, Buffer.from(requestLine(1)));
  // FIFO of waiting calls: the echo server answers in order.
  let waiting: Array<(v: unknown) => void> = [];
  let head = 0;
  let failure: Error | undefined;
  const rejects = new Set<(e: Error) => void>();

  socket.on("data", (chunk: Buffer) => {
    const n = countLines(chunk);
    for (let k = 0; k < n && head < waiting.length; k++) waiting[head++]!(undefined);
    if (head === waiting.length) {
      waiting = [];
      head = 0;
    }
  });
  const fail = (e: Error) => {
    failure ??= e;
    for (const r of rejects) r(failure);
  };
  socket.on("error", fail);
  socket.on("close", () => fail(new Error("connection closed")));

  return {
    call: () =>
      new Promise((resolve, reject) => {
        if (failure) return reject(failure);
        waiting.push(resolve);
        out.write(1);
      }),
    verify: () => {},
    close: () => {
      socket.destroy();
    },
  };
}
