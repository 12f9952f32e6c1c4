// Ceiling row 2: a node:net Go-jsonrpc server with no library: JSON.parse each line, JSON.stringify each reply.
import net from "node:net";
import { BatchWriter, readLines } from "../lines.js";
import { getUser, METHOD } from "../user.js";
import { ready } from "./ready.js";

interface Request {
  method?: unknown;
  params?: unknown;
  id?: unknown;
}

function answer(line: string): string {
  const req = JSON.parse(line) as Request;
  const arg = Array.isArray(req.params) ? (req.params[0] as { id?: unknown } | null) : undefined;
  if (req.method !== METHOD) {
    return JSON.stringify({ id: req.id, result: null, error: `rpc: can't find method ${String(req.method)}` }) + "\n";
  }
  const user = getUser(arg?.id);
  if (!user) return JSON.stringify({ id: req.id, result: null, error: "user not found" }) + "\n";
  return JSON.stringify({ id: req.id, result: user, error: null }) + "\n";
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  const out = new BatchWriter(socket);
  readLines(socket, (line) => out.write(answer(line)));
  socket.on("error", () => socket.destroy());
});
server.listen(0, "127.0.0.1", () => ready((server.address() as net.AddressInfo).port));
