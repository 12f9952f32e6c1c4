// The one-way streams every stream row measures: a server-streaming call of many small messages.

/** Ticks.Count's name, and how many messages one call asks for: enough that a call outlasts its cell. */
export const STREAM_METHOD = "Ticks.Count";
export const STREAM_COUNT = 10_000_000;

/** The raw ceiling's message: as long as netrpc's JSON envelope of one tick ({"id":0,"message":12345}). */
export const STREAM_MESSAGE = `{"id":0,"message":12345}`;

/** Bytes `ws` may hold unsent before the raw server waits for the socket, as transports/ws does. */
export const STREAM_SEND_HIGH_WATER = 256 * 1024;

/** The bench's streaming service: 0, 1, ..., n-1, one message each (examples' Counter.Count without its cap). */
export class Ticks {
  async *Count(n: number): AsyncGenerator<number> {
    for (let i = 0; i < n; i++) yield i;
  }
}
