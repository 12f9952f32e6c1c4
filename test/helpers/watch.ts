// A test service whose handlers record when they start and why their signal aborted.
import type { CallContext } from "../../index.js";

export class Watch {
  started: string[] = [];
  aborted = new Map<string, unknown>();
  calls = 0;

  /** Never finishes by itself: settles only when ctx.signal aborts (or after 10 s, as a failure). */
  Hang(tag: string, ctx: CallContext): Promise<never> {
    this.started.push(tag);
    return new Promise((_, reject) => {
      const timer = setTimeout(() => reject(new Error("never aborted")), 10_000);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        this.aborted.set(tag, ctx.signal.reason);
        reject(ctx.signal.reason);
      });
    });
  }

  Count(): number {
    return ++this.calls;
  }
}
