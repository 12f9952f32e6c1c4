// Params and results <-> payload bytes for one message type: check, fromObject, verify, encode; decode, toObject.
import protobuf from "protobufjs";
import type { Type, IConversionOptions, Message, Reader } from "protobufjs";
import { checkMessage } from "./check.js";
import { strictReader } from "./reader.js";

/** How 64-bit integers are handed to your code: decimal strings (default), bigints or numbers. */
export type Longs = "string" | "bigint" | "number";

const EMPTY: Uint8Array = new Uint8Array(0);
const LONG_TYPES = new Set(["int64", "uint64", "sint64", "fixed64", "sfixed64"]);

/**
 * toObject options: enums as names, every field present (defaults filled in, [] and {} for
 * repeated and map fields, null for unset message fields), bytes left as Uint8Array (Buffer on
 * Node), the set member of a oneof named by the oneof's own key.
 */
const AS_STRINGS: IConversionOptions = { longs: String, enums: String, defaults: true, arrays: true, objects: true, oneofs: true };
const AS_NUMBERS: IConversionOptions = { ...AS_STRINGS, longs: Number };

/**
 * Encodes `value` as `type`; undefined and null encode as the empty message (every field at
 * its default). Throws a plain Error naming the field when the value does not fit; the codec
 * turns it into INVALID_ARGUMENT (params) or INTERNAL (results).
 */
export function encodePayload(type: Type, value: unknown): Uint8Array {
  const message = preparePayload(type, value);
  return message === null ? EMPTY : type.encode(message).finish();
}

/**
 * The checking half of encodePayload: `value` checked, converted and verified as `type`, ready
 * for encoding; null for undefined and null (the empty message). Throws as encodePayload does.
 */
export function preparePayload(type: Type, value: unknown): Message | null {
  if (value === undefined || value === null) return null;
  // checkMessage's output is what fromObject would make of it, so it goes to verify as is.
  const message = checkMessage(type, value) as unknown as Message;
  if (needsVerify(type)) {
    const problem = type.verify(message);
    if (problem) throw new Error(problem);
  }
  return message;
}

/** Decodes `bytes` as `type` into a plain object with every field present. Throws what protobufjs throws. */
export function decodePayload(type: Type, bytes: Uint8Array, longs: Longs): Record<string, unknown> {
  return toPlain(type, type.decode(strictReader(bytes)), longs);
}

/**
 * decodePayload for the `length` bytes at `at` in a strict reader (strictReader's) that holds a
 * whole frame: protobufjs's decoder, given a length, reads no further than it and requires the
 * message to end exactly there, as a reader of its own would.
 */
export function decodePayloadAt(type: Type, r: Reader, at: number, length: number, longs: Longs): Record<string, unknown> {
  r.pos = at;
  return toPlain(type, type.decode(r, length), longs);
}

function toPlain(type: Type, message: Message, longs: Longs): Record<string, unknown> {
  const object = type.toObject(message, longs === "number" ? AS_NUMBERS : AS_STRINGS);
  if (needsFixing(type, longs === "bigint")) fix(type, object, longs === "bigint");
  return object;
}

/**
 * toObject leaves two things to fix: int64s become bigints when asked for (protobufjs only
 * knows String and Number), and proto3 `optional` fields come with a synthetic oneof key
 * (`_name: "name"`) that is noise to callers, so it is removed. Types that need neither are
 * never walked.
 */
function fix(type: Type, object: Record<string, unknown>, bigint: boolean): void {
  for (const oneof of type.oneofsArray) if (oneof.isProto3Optional) delete object[oneof.name];
  for (const field of type.fieldsArray) {
    const v = object[field.name];
    if (v === undefined || v === null) continue;
    const sub = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    const long = bigint && LONG_TYPES.has(field.type);
    if (!sub && !long) continue;
    const one = (x: unknown): unknown => {
      if (sub) fix(sub, x as Record<string, unknown>, bigint);
      return long ? BigInt(x as string) : x;
    };
    if (field.map) {
      const map = v as Record<string, unknown>;
      for (const key of Object.keys(map)) map[key] = one(map[key]);
    } else if (field.repeated) {
      const list = v as unknown[];
      for (let i = 0; i < list.length; i++) list[i] = one(list[i]);
    } else object[field.name] = one(v);
  }
}

const verifying = new WeakMap<Type, boolean>();

/**
 * verify refuses nothing checkMessage lets through, except in two places: map keys (it wants
 * canonical integers, no leading zeros) and oneofs (at most one member set). Types that hold
 * neither, themselves or in any message they contain, skip it.
 */
function needsVerify(type: Type): boolean {
  let answer = verifying.get(type);
  if (answer !== undefined) return answer;
  answer = false;
  const seen = new Set<Type>([type]);
  const todo: Type[] = [type];
  for (let t = todo.pop(); t && !answer; t = todo.pop()) {
    if (t.oneofsArray.some((o) => o.fieldsArray.length > 1)) answer = true;
    for (const field of t.fieldsArray) {
      if (field.map) answer = true;
      const sub = field.resolve().resolvedType;
      if (sub instanceof protobuf.Type && !seen.has(sub)) {
        seen.add(sub);
        todo.push(sub);
      }
    }
  }
  verifying.set(type, answer);
  return answer;
}

const fixing = [new WeakMap<Type, boolean>(), new WeakMap<Type, boolean>()] as const;

/** True when a message of `type` can hold a proto3 optional field, or an int64 when `bigint`. */
function needsFixing(type: Type, bigint: boolean): boolean {
  const cache = fixing[bigint ? 1 : 0];
  let answer = cache.get(type);
  if (answer !== undefined) return answer;
  answer = false;
  const seen = new Set<Type>([type]);
  const todo: Type[] = [type];
  for (let t = todo.pop(); t && !answer; t = todo.pop()) {
    if (t.oneofsArray.some((o) => o.isProto3Optional)) answer = true;
    for (const field of t.fieldsArray) {
      if (bigint && LONG_TYPES.has(field.type)) answer = true;
      const sub = field.resolve().resolvedType;
      if (sub instanceof protobuf.Type && !seen.has(sub)) {
        seen.add(sub);
        todo.push(sub);
      }
    }
  }
  cache.set(type, answer);
  return answer;
}
