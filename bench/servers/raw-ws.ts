// Ceiling rows for WebSocket: a plain `ws` server, no library above it. At /echo each message is
// sent straight back; at /stream a message "N" is answered with N small messages, sent as fast
// as the socket takes them (one-way throughput). Like the raw TCP rows, writes are batched per
// tick: the socket stays corked until the tick's messages are sent, so they leave in one write.
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { tickCork } from "../ws-cork.js";
import { STREAM_MESSAGE, STREAM_SEND_HIGH_WATER } from "../stream.js";
import { ready } from "./ready.js";

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, clientTracking: false });

/** Sends `n` copies of STREAM_MESSAGE, waiting for the socket whenever ws holds too much unsent. */
function stream(ws: WebSocket, cork: () => void, n: number): void {
  let left = n;
  const more = (): void => {
    cork();
    while (left > 0 && ws.readyState === ws.OPEN) {
      left--;
      if (ws.bufferedAmount < STREAM_SEND_HIGH_WATER || left === 0) ws.send(STREAM_MESSAGE);
      else return ws.send(STREAM_MESSAGE, more); // resumes once this one reached the socket
    }
  };
  more();
}

wss.on("connection", (ws, req) => {
  ws.on("error", () => ws.terminate());
  const cork = tickCork(req.socket);
  if (req.url === "/stream") ws.on("message", (data) => stream(ws, cork, Number(data.toString())));
  else
    ws.on("message", (data, isBinary) => {
      cork();
      ws.send(data, { binary: isBinary });
    });
});
wss.on("listening", () => ready((wss.address() as AddressInfo).port));
