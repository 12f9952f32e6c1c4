// Newline-delimited framing for the raw rows: split incoming lines, batch outgoing writes per tick.
import type { Socket } from "node:net";

/** Calls `onLine` for each complete utf8 line (without the newline) read from `socket`. */
export function readLines(socket: Socket, onLine: (line: string) => void): void {
  let rest = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    let text = rest === "" ? chunk : rest + chunk;
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf("\n", start)) !== -1) {
      if (nl > start) onLine(text.slice(start, nl));
      start = nl + 1;
    }
    rest = start === text.length ? "" : text.slice(start);
    text = "";
  });
}

/** Counts the newline bytes in a chunk, for the echo row, which never decodes. */
export function countLines(chunk: Buffer): number {
  let n = 0;
  let i = -1;
  while ((i = chunk.indexOf(10, i + 1)) !== -1) n++;
  return n;
}

/** Accumulates text and writes it with one socket.write once the current tick's work is done. */
export class BatchWriter {
  private buf = "";
  private scheduled = false;

  constructor(private readonly socket: Socket) {}

  write(text: string): void {
    this.buf += text;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const out = this.buf;
    this.buf = "";
    if (out !== "" && !this.socket.destroyed) this.socket.write(out);
  };
}

/** Writes `count` copies of one pre-encoded line with one socket.write per tick. */
export class RepeatWriter {
  private count = 0;
  private scheduled = false;

  constructor(
    private readonly socket: Socket,
    private readonly line: Buffer,
  ) {}

  write(count: number): void {
    this.count += count;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const n = this.count;
    this.count = 0;
    if (n === 0 || this.socket.destroyed) return;
    const len = this.line.length;
    const out = Buffer.allocUnsafe(n * len);
    for (let k = 0; k < n; k++) this.line.copy(out, k * len);
    this.socket.write(out);
  };
}
