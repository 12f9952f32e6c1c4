// The codec micro-benchmark's payloads: GetUserResp, a ~1 KiB nested Order and a ~64 KiB Page,
// each with the method that carries it (protobuf types results by the method's response type).
import { fileURLToPath } from "node:url";
import { EXPECTED, EXPECTED_PROTO, METHOD, PARAMS, PROTO_FILE, PROTO_METHOD } from "./user.js";

/** The schema of Order and Page for the protobuf codec (bench-only). */
export const PAYLOADS_PROTO = fileURLToPath(new URL("./payloads.proto", import.meta.url));

export interface Payload {
  /** Short name, as printed in the table. */
  id: string;
  /** What the table says it is. */
  label: string;
  /** The method whose result it is, on json/msgpack and on protobuf connections. */
  method: string;
  protoMethod: string;
  params: unknown;
  /** The result as json and msgpack carry it, and as protobuf does (the same but for GetUserResp's field names). */
  result: unknown;
  protoResult: unknown;
}

const ADDRESSES = [
  { street: "12 St James's Square", city: "London", zip: "SW1Y 4JH", country: "GB" },
  { street: "1600 Amphitheatre Parkway", city: "Mountain View", zip: "94043", country: "US" },
  { street: "Unter den Linden 77", city: "Berlin", zip: "10117", country: "DE" },
  { street: "5 Chome-2-1 Ginza", city: "Tokyo", zip: "104-0061", country: "JP" },
];
const TAGS = ["new", "priority", "gift", "fragile", "backorder", "eu", "retail", "b2b", "returning", "beta"];
const PRODUCTS = ["Mechanical keyboard", "USB-C hub, 7 ports", "27\" monitor", "Noise-cancelling headphones", "Laptop stand", "Webcam 1080p", "Desk lamp"];

/** Every field set to a non-default value, so protobuf's decode (defaults filled in) gives back the same object. */
function order(items: number): Record<string, unknown> {
  const list = Array.from({ length: items }, (_, i) => ({
    sku: `SKU-${10_001 + i * 7}`,
    name: PRODUCTS[i % PRODUCTS.length]!,
    quantity: 1 + (i % 3),
    price: 19.99 + i * 10.25,
    tags: [TAGS[i % TAGS.length]!, TAGS[(i + 3) % TAGS.length]!],
  }));
  const total = Math.round(list.reduce((sum, it) => sum + it.price * it.quantity, 0) * 100) / 100;
  return {
    id: "ord-2024-000123",
    customer: { id: 48_213, name: "Ada Lovelace", email: "ada.lovelace@example.com", address: ADDRESSES[0]!, vip: true },
    items: list,
    total,
    currency: "EUR",
    createdAt: "2024-11-21T23:59:58.123Z",
    status: "PAID",
    note: "Leave at the front desk; ring twice.",
  };
}

function entry(i: number): Record<string, unknown> {
  return {
    id: 100_000 + i,
    name: `User Number ${i}`,
    email: `user.${i}@example.org`,
    score: ((i * 37) % 1000) / 4 + 0.5,
    active: i % 3 !== 0,
    tags: [TAGS[i % TAGS.length]!, TAGS[(i * 7) % TAGS.length]!],
    createdAt: new Date(Date.UTC(2024, 0, 1) + i * 3_600_000).toISOString(),
    address: ADDRESSES[i % ADDRESSES.length]!,
  };
}

function page(entries: number): Record<string, unknown> {
  return { page: 1, total: entries, entries: Array.from({ length: entries }, (_, i) => entry(i)) };
}

/** The largest `make(n)` whose JSON text is at most `bytes` long. */
function largest(make: (n: number) => unknown, bytes: number): unknown {
  let n = 1;
  while (JSON.stringify(make(n + 1)).length <= bytes) n++;
  return make(n);
}

const ORDER = largest(order, 1024) as { items: unknown[] };
const PAGE = largest(page, 64 * 1024) as { entries: unknown[] };
export const ORDER_ITEMS = ORDER.items.length;
export const PAGE_ENTRIES = PAGE.entries.length;

export const PAYLOADS: readonly Payload[] = [
  { id: "GetUserResp", label: "GetUserResp", method: METHOD, protoMethod: PROTO_METHOD, params: PARAMS, result: EXPECTED, protoResult: EXPECTED_PROTO },
  { id: "order-1k", label: "~1 KiB nested", method: "Bench.GetOrder", protoMethod: "bench.Payloads.GetOrder", params: PARAMS, result: ORDER, protoResult: ORDER },
  { id: "page-64k", label: "~64 KiB", method: "Bench.GetPage", protoMethod: "bench.Payloads.GetPage", params: PARAMS, result: PAGE, protoResult: PAGE },
];

/** The .proto files the protobuf codec needs for every payload. */
export const CODEC_PROTOS = [PROTO_FILE, PAYLOADS_PROTO];
