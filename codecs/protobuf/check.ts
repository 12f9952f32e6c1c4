// Params and results -> plain objects protobufjs's verify and encode take as they are, checked field by field.
import protobuf from "protobufjs";
import type { Type, Field, Enum } from "protobufjs";

/** protobuf's own nesting limit; deeper (or cyclic) values are refused, not a stack overflow. */
const MAX_DEPTH = 100;

const LONG: Readonly<Record<string, boolean>> = { int64: true, sint64: true, sfixed64: true, uint64: false, fixed64: false };
const INT32: Readonly<Record<string, [number, number]>> = {
  int32: [-0x80000000, 0x7fffffff], sint32: [-0x80000000, 0x7fffffff], sfixed32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff], fixed32: [0, 0xffffffff],
};
const INT64_MIN = -(2n ** 63n), INT64_MAX = 2n ** 63n - 1n, UINT64_MAX = 2n ** 64n - 1n;
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER), MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const DECIMAL = /^-?\d+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A value that does not fit its field; `path` is the field path ("user.address.zip"). */
export class FieldError extends Error {
  constructor(path: string[], problem: string) {
    super(`${path.length > 0 ? path.join(".") : "(message)"}: ${problem}`);
  }
}

type Check = (v: unknown, path: string[]) => unknown;

interface Entry {
  readonly name: string;
  /** False for a field named like an Object.prototype key ("constructor", "__proto__"): set with defineProperty. */
  readonly plain: boolean;
  /** Checks (and converts) one value of the field, repeated and map fields whole. */
  readonly check: Check;
}

type Copy = (source: Record<string, unknown>, path: string[]) => Record<string, unknown>;

interface Plan {
  /** checkMessage's loop compiled for this type (every field a plain name), or undefined. */
  readonly copy: Copy | undefined;
  /** Field by the key a value may use: the .proto name, or its lowerCamelCase form. */
  readonly byKey: ReadonlyMap<string, Entry>;
  /** Oneof names (toObject's `oneofs: true` keys), ignored on input. */
  readonly oneofs: ReadonlySet<string>;
}

const plans = new WeakMap<Type, Plan>();

function planOf(type: Type): Plan {
  let plan = plans.get(type);
  if (plan) return plan;
  const byKey = new Map<string, Entry>();
  for (const field of type.fieldsArray) {
    field.resolve();
    byKey.set(field.name, { name: field.name, plain: !(field.name in Object.prototype), check: compileField(field) });
  }
  for (const field of type.fieldsArray) {
    const camel = protobuf.util.camelCase(field.name);
    if (!byKey.has(camel)) byKey.set(camel, byKey.get(field.name)!);
  }
  const oneofs = new Set(Object.keys(type.oneofs ?? {}));
  plan = { byKey, oneofs, copy: compileCopy(type, byKey, oneofs) };
  plans.set(type, plan);
  return plan;
}

/**
 * Checks `value` against message type `type` and returns a fresh plain object with the .proto
 * field names that protobufjs's verify and encode take as they are (what fromObject would have
 * made of it): int64s (given as numbers, decimal strings, bigints or Longs) as numbers when
 * safe integers and Longs otherwise, enums (given as names or numbers the enum defines) as
 * numbers, bytes (given as Uint8Array or base64) as Uint8Array. A key that names no
 * field is refused (as protojson does), so `{ Id: "1" }` for `string id` fails loudly instead
 * of sending an empty message; null and undefined mean "not set". Throws FieldError.
 */
export function checkMessage(type: Type, value: unknown, path: string[] = []): Record<string, unknown> {
  if (path.length > MAX_DEPTH) throw new FieldError(path, `nested deeper than ${MAX_DEPTH} (a cycle?)`);
  if (typeof value !== "object" || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) {
    throw new FieldError(path, `${type.fullName.slice(1)} object expected, got ${describe(value)}`);
  }
  const plan = planOf(type);
  const source = value as Record<string, unknown>;
  if (plan.copy) return plan.copy(source, path);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    const v = source[key];
    if (v === undefined || v === null) continue;
    const entry = plan.byKey.get(key);
    if (entry === undefined) {
      if (plan.oneofs.has(key)) continue;
      throw new FieldError([...path, key], `no such field in ${type.fullName.slice(1)} (fields: ${type.fieldsArray.map((f) => f.name).join(", ") || "none"})`);
    }
    const name = entry.name;
    // Checked values are never undefined, so a set field reads as defined.
    if (entry.plain ? out[name] !== undefined : Object.hasOwn(out, name)) throw new FieldError([...path, key], `field ${name} given twice`);
    path.push(name);
    const checked = entry.check(v, path);
    if (entry.plain) out[name] = checked;
    else Object.defineProperty(out, name, { value: checked, enumerable: true, writable: true, configurable: true });
    path.pop();
  }
  return out;
}

/** Types whose values are often already what the check returns: tested inline, the check called only otherwise. */
const INLINE: Readonly<Record<string, string>> = { string: "string", bool: "boolean", double: "number", float: "number" };

/**
 * The loop of checkMessage for one type, as code: a switch on the key with the field names as
 * constants, so setting a field is a plain property store instead of a store under a computed
 * key (which V8 handles far more slowly), and strings, booleans and doubles are checked
 * inline. It does what the loop does, step for step, and throws the same errors. Types with a
 * field named like an Object.prototype key keep the loop.
 */
function compileCopy(type: Type, byKey: ReadonlyMap<string, Entry>, oneofs: ReadonlySet<string>): Copy | undefined {
  const entries = [...new Set(byKey.values())];
  if (entries.some((e) => !e.plain || e.name === "__proto__")) return undefined;
  const checks = entries.map((e) => e.check);
  const lit = (s: string) => JSON.stringify(s);
  const cases = entries.map((e, i) => {
    const keys = [...byKey].filter(([, x]) => x === e).map(([k]) => `case ${lit(k)}:`).join(" ");
    const field = `out[${lit(e.name)}]`;
    const inline = INLINE[fieldType(type, e.name)];
    const general = `path.push(${lit(e.name)}); ${field} = checks[${i}](v, path); path.pop();`;
    return `${keys}
        if (${field} !== undefined) twice(path, key, ${lit(e.name)});
        ${inline ? `if (typeof v === ${lit(inline)}) ${field} = v; else { ${general} }` : general}
        break;`;
  });
  const body = `return function copy(source, path) {
    const out = {};
    const keys = Object.keys(source);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const v = source[key];
      if (v === undefined || v === null) continue;
      switch (key) {
        ${cases.join("\n        ")}
        default:
          if (oneofs.has(key)) continue;
          unknown(path, key);
      }
    }
    return out;
  };`;
  const unknown = (path: string[], key: string): never => {
    throw new FieldError([...path, key], `no such field in ${type.fullName.slice(1)} (fields: ${type.fieldsArray.map((f) => f.name).join(", ") || "none"})`);
  };
  const twice = (path: string[], key: string, name: string): never => {
    throw new FieldError([...path, key], `field ${name} given twice`);
  };
  return new Function("checks", "oneofs", "unknown", "twice", body)(checks, oneofs, unknown, twice) as Copy;
}

/** A field's scalar type name ("string"), or "" for a repeated, map or message field. */
function fieldType(type: Type, name: string): string {
  const field = type.fields[name]!;
  return field.repeated || field.map || field.resolvedType ? "" : field.type;
}

/** The whole-field check for `field` (resolved): map, repeated or single. */
function compileField(field: Field): Check {
  const single = compileSingle(field);
  if (field.map) {
    const keyType = (field as unknown as protobuf.MapField).keyType;
    return (v, path) => {
      if (typeof v !== "object" || Array.isArray(v) || ArrayBuffer.isView(v) || v instanceof Map) {
        throw new FieldError(path, `map expected as a plain object, got ${describe(v)}`);
      }
      const out = Object.create(null) as Record<string, unknown>;
      for (const key of Object.keys(v as object)) {
        checkMapKey(keyType, key, path);
        const item = (v as Record<string, unknown>)[key];
        if (item === undefined || item === null) throw new FieldError([...path, key], "map value missing");
        path.push(key);
        out[key] = single(item, path);
        path.pop();
      }
      return out;
    };
  }
  if (field.repeated) {
    return (v, path) => {
      if (!Array.isArray(v)) throw new FieldError(path, `array expected, got ${describe(v)}`);
      const n = v.length;
      const out = new Array<unknown>(n);
      for (let i = 0; i < n; i++) {
        const item: unknown = v[i];
        if (item === undefined || item === null) {
          path.push(String(i));
          throw new FieldError(path, "null in a repeated field");
        }
        path.push(String(i));
        out[i] = single(item, path);
        path.pop();
      }
      return out;
    };
  }
  return single;
}

/** The check for one value of `field` (a map's value, a list's item, or the field itself). */
function compileSingle(field: Field): Check {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return (v, path) => checkMessage(resolved, v, path);
  if (resolved instanceof protobuf.Enum) return (v, path) => checkEnum(resolved, v, path);
  const type = field.type;
  switch (type) {
    case "string":
      return (v, path) => (typeof v === "string" ? v : fail(path, type, v));
    case "bool":
      return (v, path) => (typeof v === "boolean" ? v : fail(path, type, v));
    case "double":
    case "float":
      return (v, path) => (typeof v === "number" ? v : fail(path, type, v));
    default: {
      const range = INT32[type];
      if (range) {
        const [lo, hi] = range;
        return (v, path) => (typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi ? v : fail(path, `${type} (an integer from ${lo} to ${hi})`, v));
      }
      return (v, path) => checkScalar(type, v, path);
    }
  }
}

function checkEnum(e: Enum, v: unknown, path: string[]): unknown {
  if (typeof v === "string" && Object.hasOwn(e.values, v)) return e.values[v];
  if (typeof v === "number" && Object.hasOwn(e.valuesById, v)) return v;
  throw new FieldError(path, `${e.fullName.slice(1)} name or number expected (${Object.keys(e.values).join(", ")}), got ${describe(v)}`);
}

function checkScalar(type: string, v: unknown, path: string[]): unknown {
  switch (type) {
    case "string":
      if (typeof v === "string") return v;
      break;
    case "bool":
      if (typeof v === "boolean") return v;
      break;
    case "double":
    case "float":
      if (typeof v === "number") return v;
      break;
    case "bytes":
      if (v instanceof Uint8Array) return v;
      if (typeof v === "string" && BASE64.test(v)) {
        // As fromObject decodes it.
        const bytes = protobuf.util.newBuffer(protobuf.util.base64.length(v)) as Uint8Array;
        protobuf.util.base64.decode(v, bytes, 0);
        return bytes;
      }
      return fail(path, "Uint8Array or base64 string", v);
    default: {
      const range = INT32[type];
      if (range) {
        if (typeof v === "number" && Number.isInteger(v) && v >= range[0] && v <= range[1]) return v;
        return fail(path, `${type} (an integer from ${range[0]} to ${range[1]})`, v);
      }
      const signed = LONG[type];
      if (signed !== undefined) return checkLong(signed, type, v, path);
      throw new FieldError(path, `unsupported field type ${type}`);
    }
  }
  return fail(path, type, v);
}

/** 64-bit integers: a number, a decimal string, a bigint or a Long; returned as a number (safe integers) or a Long. */
function checkLong(signed: boolean, type: string, v: unknown, path: string[]): unknown {
  let n: bigint | undefined;
  if (typeof v === "bigint") n = v;
  else if (typeof v === "string" && DECIMAL.test(v)) n = BigInt(v);
  else if (typeof v === "number" && Number.isInteger(v)) n = BigInt(v);
  else if (typeof v === "object" && v !== null && Number.isInteger((v as { low?: unknown }).low) && Number.isInteger((v as { high?: unknown }).high)) return v;
  if (n !== undefined && (signed ? n >= INT64_MIN && n <= INT64_MAX : n >= 0n && n <= UINT64_MAX)) {
    if (n >= MIN_SAFE && n <= MAX_SAFE) return Number(n);
    const Long = protobuf.util.Long as unknown as { fromString(text: string, unsigned: boolean): object } | undefined;
    return Long ? Long.fromString(n.toString(), !signed) : Number(n);
  }
  return fail(path, `${type} (an integer as a number, decimal string or bigint, ${signed ? "-2^63 to 2^63-1" : "0 to 2^64-1"})`, v);
}

function checkMapKey(keyType: string, key: string, path: string[]): void {
  if (keyType === "string") return;
  if (keyType === "bool" ? key === "true" || key === "false" : DECIMAL.test(key)) return;
  throw new FieldError([...path, key], `map key must be a ${keyType}`);
}

function fail(path: string[], expected: string, got: unknown): never {
  throw new FieldError(path, `${expected} expected, got ${describe(got)}`);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return v.length > 40 ? `a string of ${v.length} characters` : JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (typeof v === "bigint") return `${v}n`;
  return `a${typeof v === "object" ? "n" : ""} ${typeof v}`;
}
