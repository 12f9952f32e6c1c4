// WebSocket frames batched several to one socket write (framed by ws itself): ws's own Receiver must
// read them back as the messages sent, masked from a client and unmasked from a server.
import t from "tap";
import * as ws from "ws";
import { FrameBatch, MAX_BATCHED_MESSAGE } from "../../transports/ws/frames.js";

interface Received {
  data: string | Buffer;
  binary: boolean;
}

/** Parses `bytes` with ws's Receiver as the side that reads frames from `masked` senders. */
function receive(bytes: Buffer, masked: boolean): Promise<Received[]> {
  // ws exports its Receiver; its type declarations do not.
  const Receiver = (ws as unknown as { Receiver: new (options: object) => NodeJS.WritableStream & NodeJS.EventEmitter }).Receiver;
  const receiver = new Receiver({ isServer: masked, binaryType: "nodebuffer", maxPayload: 0 });
  const out: Received[] = [];
  receiver.on("message", (data: Buffer, binary: boolean) => out.push({ data: binary ? data : data.toString("utf8"), binary }));
  return new Promise((resolve, reject) => {
    receiver.on("error", reject);
    // Split in two to cross a frame boundary mid-header, as a socket may deliver them.
    receiver.write(bytes.subarray(0, 3));
    receiver.write(bytes.subarray(3), () => resolve(out));
  });
}

const bytes = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => i % 251));

for (const masked of [false, true]) {
  t.test(`frames from a ${masked ? "client (masked)" : "server"} read back as the messages sent`, async (t) => {
    const batch = new FrameBatch(masked);
    const sent: Received[] = [
      { data: "", binary: false },
      { data: "héllo ☃ 你好", binary: false },
      { data: "x".repeat(126), binary: false },
      { data: bytes(125), binary: true },
      { data: bytes(126), binary: true },
      { data: new Uint8Array(bytes(300)) as Buffer, binary: true },
      { data: bytes(MAX_BATCHED_MESSAGE), binary: true },
      { data: "é".repeat(MAX_BATCHED_MESSAGE / 2), binary: false },
    ];
    for (const m of sent) t.ok(batch.add(m.data, m.binary), `queued ${m.binary ? "binary" : "text"} of ${m.data.length}`);
    t.notOk(batch.add(bytes(MAX_BATCHED_MESSAGE + 1), true), "a larger message is left to ws");
    t.notOk(batch.add("é".repeat(MAX_BATCHED_MESSAGE / 2 + 1), false), "so is a text whose UTF-8 is larger");
    t.equal(batch.size, sent.length);
    const got = await receive(batch.take(), masked);
    t.equal(batch.size, 0, "take() empties the batch");
    t.equal(got.length, sent.length);
    got.forEach((m, i) => {
      t.equal(m.binary, sent[i]!.binary, `message ${i}: kind`);
      t.same(m.binary ? [...(m.data as Buffer)] : m.data, sent[i]!.binary ? [...(sent[i]!.data as Buffer)] : sent[i]!.data, `message ${i}: contents`);
    });
  });
}

t.test("a client's frames carry a fresh masking key each", async (t) => {
  const batch = new FrameBatch(true);
  for (let i = 0; i < 3; i++) batch.add("same", false);
  const out = batch.take();
  // Each frame: 2 header bytes, the 4-byte key, 4 payload bytes.
  const keys = [0, 1, 2].map((i) => out.subarray(i * 10 + 2, i * 10 + 6).toString("hex"));
  t.equal(new Set(keys).size, 3, `keys ${keys.join(", ")}`);
  t.same(await receive(out, true), [0, 1, 2].map(() => ({ data: "same", binary: false })));
});
