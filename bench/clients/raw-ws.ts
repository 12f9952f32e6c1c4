// The WebSocket ceilings' client: plain `ws`, one connection. Unary: a pre-encoded request sent as
// one text message per call (the socket corked per tick, as the raw TCP client batches), calls
// resolved in order as the echoes arrive. Stream: ask the server for STREAM_COUNT messages and
// count them as they come.
import { once } from "node:events";
import type http from "node:http";
import { WebSocket } from "ws";
import { tickCork } from "../ws-cork.js";
import { requestLine } from "../user.js";
import { STREAM_COUNT } from "../stream.js";
import type { BenchClient, StreamClient } from "./client.js";

async function open(port: number, path: string): Promise<{ ws: WebSocket; cork: () => void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { perMessageDeflate: false });
  // 'open' follows 'upgrade' in the same tick: listen for both before waiting.
  const upgraded = once(ws, "upgrade") as Promise<[http.IncomingMessage]>;
  const opened = once(ws, "open");
  const [[res]] = await Promise.all([upgraded, opened]);
  return { ws, cork: tickCork(res.socket) };
}

export async function connect(port: number): Promise<BenchClient> {
  const { ws, cork } = await open(port, "/echo");
  const request = requestLine(1).trimEnd();
  // FIFO of waiting calls: the echo server answers in order.
  let waiting: Array<{ resolve(v: unknown): void; reject(e: Error): void }> = [];
  let head = 0;
  let failure: Error | undefined;

  ws.on("message", () => {
    if (head < waiting.length) waiting[head++]!.resolve(undefined);
    if (head === waiting.length) {
      waiting = [];
      head = 0;
    }
  });
  const fail = (e: Error) => {
    failure ??= e;
    for (const w of waiting.slice(head)) w.reject(failure);
    waiting = [];
    head = 0;
  };
  ws.on("error", fail);
  ws.on("close", () => fail(new Error("connection closed")));

  return {
    call: () =>
      new Promise((resolve, reject) => {
        if (failure) return reject(failure);
        waiting.push({ resolve, reject });
        cork();
        ws.send(request);
      }),
    verify: () => {},
    close: () => ws.terminate(),
  };
}

export async function connectStream(port: number): Promise<StreamClient> {
  const { ws } = await open(port, "/stream");
  let closing = false;
  return {
    run: (count) =>
      new Promise((resolve, reject) => {
        let left = 0;
        const ask = () => {
          left = STREAM_COUNT;
          ws.send(String(STREAM_COUNT));
        };
        ws.on("message", () => {
          count();
          if (--left === 0) ask();
        });
        ws.on("error", reject);
        ws.on("close", () => (closing ? resolve() : reject(new Error("connection closed"))));
        ask();
      }),
    close: () => {
      closing = true;
      ws.terminate();
    },
  };
}
