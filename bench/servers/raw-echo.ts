// Ceiling row 1: a node:net server that answers each request line with one pre-encoded reply line.
import net from "node:net";
import { countLines, RepeatWriter } from "../lines.js";
import { EXPECTED } from "../user.js";
import { ready } from "./ready.js";

const reply = Buffer.from(`{"id":1,"result":${JSON.stringify(EXPECTED)},"error":null}\n`);

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  const out = new RepeatWriter(socket, reply);
  socket.on("data", (chunk: Buffer) => {
    const n = countLines(chunk);
    if (n > 0) out.write(n);
  });
  socket.on("error", () => socket.destroy());
});
server.listen(0, "127.0.0.1", () => ready((server.address() as net.AddressInfo).port));
