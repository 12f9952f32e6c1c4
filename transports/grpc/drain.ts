// Waiting for an HTTP/2 stream to take more data: its flow-control window reopened, or it closed.
import type { Duplex } from "node:stream";

/** Resolves on 'drain' or 'close', whichever comes first, and removes both listeners. */
export function drained(stream: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.removeListener("drain", done);
      stream.removeListener("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
  });
}
