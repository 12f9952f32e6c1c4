// One streaming call on a server connection: its queue of requests and its credit for replies.
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";
import type { CallContext } from "./context.js";
import { MessageQueue } from "./message-queue.js";

export function isIterable(value: unknown): value is AsyncIterable<unknown> | Iterable<unknown> {
  return typeof value === "object" && value !== null && (Symbol.asyncIterator in value || Symbol.iterator in value);
}

/**
 * Both directions are bounded by `window` messages: the client may send that many requests
 * beyond what the handler has read (we grant more as it reads), and we send replies only while
 * the client has granted credit for them. A peer that sends past its window fails its call.
 */
export class ServerStream {
  readonly #ctx: CallContext;
  readonly #window: number;
  #requests: MessageQueue<unknown> | undefined;
  #credit: number;
  #wake: (() => void) | undefined;

  constructor(ctx: CallContext, window: number) {
    this.#ctx = ctx;
    this.#window = window;
    this.#credit = window;
    ctx._onAbort((reason) => {
      this.#requests?.fail(RpcError.from(reason, Code.CANCELLED));
      this.#wakeSender();
    });
  }

  /** The handler's requests; `grant` sends credit back as it reads them, half a window at a time. */
  openRequests(grant: (credit: number) => void): MessageQueue<unknown> {
    const requests = (this.#requests = new MessageQueue<unknown>(this.#window + 1));
    let taken = 0;
    requests.onTaken = () => {
      if (++taken < this.#window / 2) return;
      grant(taken);
      taken = 0;
    };
    return requests;
  }

  /** One request from the client; an error when the call takes none or the client overran its window. */
  request(payload: unknown): RpcError | undefined {
    const requests = this.#requests;
    if (!requests) return new RpcError(Code.INVALID_ARGUMENT, `rpc: ${this.#ctx.method} takes one request, but the client streamed one`);
    if (requests.size >= this.#window) return new RpcError(Code.RESOURCE_EXHAUSTED, `rpc: ${this.#ctx.method}: the client sent past its flow-control window of ${this.#window} messages`);
    requests.push(payload);
    return undefined;
  }

  /** The client's half-close. */
  end(): undefined {
    this.#requests?.end();
    return undefined;
  }

  /** The client read `credit` more replies. */
  grant(credit: number): undefined {
    this.#credit += credit;
    this.#wakeSender();
    return undefined;
  }

  /** Waits until one more reply may be sent; false once the call has ended. */
  async sendable(): Promise<boolean> {
    while (this.#credit === 0 && !this.#ctx.aborted) await new Promise<void>((wake) => (this.#wake = wake));
    return !this.#ctx.aborted;
  }

  /** A reply went out. */
  sent(): void {
    this.#credit--;
  }

  #wakeSender(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
