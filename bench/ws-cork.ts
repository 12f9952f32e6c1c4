// Per-tick write batching for the raw WebSocket rows, as lines.ts batches the raw TCP rows'.
import type { Duplex } from "node:stream";

/**
 * ws writes every message to the socket as it is sent, one syscall each. The returned function
 * corks the socket until the current tick's work is done (process.nextTick, as
 * core/batch-writer.ts flushes), so the messages sent meanwhile leave in one write.
 */
export function tickCork(socket: Duplex): () => void {
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  return () => {
    if (corked) return;
    corked = true;
    socket.cork();
    process.nextTick(uncork);
  };
}
