// A bounded queue of received messages read as an async iterable, with a hook for flow control.

/**
 * One producer pushes, one consumer iterates. push() returns false once `highWater` messages
 * wait, and the producer pauses its source; `onDrain` runs when the consumer has caught up.
 * fail() ends the iteration with an error after what is queued; abandon() (the consumer's
 * return()) runs `onReturn` so the producer can stop the stream.
 */
export class MessageQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  readonly #highWater: number;
  #ended = false;
  #error: Error | undefined;
  #waiter: { resolve: (r: IteratorResult<T>) => void; reject: (err: Error) => void } | undefined;
  #iterated = false;
  onDrain: (() => void) | undefined;
  onReturn: (() => void) | undefined;
  /** Runs each time the consumer takes a message: where credit-based flow control grants more. */
  onTaken: (() => void) | undefined;

  constructor(highWater = 16) {
    this.#highWater = highWater;
  }

  get size(): number {
    return this.#items.length;
  }

  push(item: T): boolean {
    if (this.#ended) return true;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter.resolve({ value: item, done: false });
      this.onTaken?.();
      return true;
    }
    this.#items.push(item);
    return this.#items.length < this.#highWater;
  }

  /** No more messages: the iteration ends after the queued ones. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#settleWaiter();
  }

  /** The iteration throws `err` after the queued messages. */
  fail(err: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = err;
    this.#settleWaiter();
  }

  #settleWaiter(): void {
    const waiter = this.#waiter;
    if (!waiter || this.#items.length > 0) return;
    this.#waiter = undefined;
    if (this.#error) waiter.reject(this.#error);
    else waiter.resolve({ value: undefined, done: true });
  }

  #next(): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) {
      const value = this.#items.shift()!;
      this.onTaken?.();
      if (this.#items.length === this.#highWater - 1 || this.#items.length === 0) this.onDrain?.();
      return Promise.resolve({ value, done: false });
    }
    if (this.#ended) return this.#error ? Promise.reject(this.#error) : Promise.resolve({ value: undefined, done: true });
    if (this.#waiter) return Promise.reject(new Error("rpc: a message stream is read by one reader at a time"));
    this.onDrain?.();
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.#iterated) throw new TypeError("rpc: a message stream can be iterated only once");
    this.#iterated = true;
    return {
      next: () => this.#next(),
      return: () => {
        const wasOpen = !this.#ended;
        this.#ended = true;
        this.#items.length = 0;
        if (wasOpen) this.onReturn?.();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
