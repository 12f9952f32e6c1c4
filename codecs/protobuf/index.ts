// The protobuf codec's public face: protobuf(options) and the .proto helpers the server's registry reuses.
import type { Root } from "protobufjs";
import type { Codec } from "../../core/codec.js";
import { ProtobufSession } from "./codec.js";
import { loadRoot, methodTypes, type MethodTable } from "./descriptors.js";
import type { Longs } from "./payload.js";

export { loadRoot, parseProto, methodTypes, serviceMethods } from "./descriptors.js";
export type { MethodDescriptor, MethodTable } from "./descriptors.js";
export { ENVELOPE_PROTO } from "./envelope.js";
export type { Longs } from "./payload.js";
export type { ProtobufSession } from "./codec.js";

export interface ProtobufOptions {
  /** .proto file paths to load (keepCase: true). */
  proto?: string | readonly string[];
  /** Roots you loaded or built yourself (resolved here); parse them with keepCase: true so field names match the .proto. */
  root?: Root | readonly Root[];
  /**
   * How int64/uint64 (and the other 64-bit types) reach your code. Default "string": exact,
   * and JSON-safe, as protobuf's JSON mapping does. "bigint" is exact too; "number" loses
   * precision past 2^53. Encoding accepts any of the three whatever this says.
   */
  longs?: Longs;
}

/** The protobuf codec, with the tables it was built from (for servers that route by them). */
export interface ProtobufCodec extends Codec {
  readonly name: "protobuf";
  /** Every rpc the codec can carry, by wire name ("user.User.GetUser"). */
  readonly methods: MethodTable;
  readonly roots: readonly Root[];
  /** How 64-bit integers are decoded. */
  readonly longs: Longs;
  fork(): ProtobufSession;
}

const LONGS: readonly Longs[] = ["string", "bigint", "number"];

/**
 * A codec that carries protobuf messages on length-prefixed frames: the envelope is itself a
 * protobuf message (ENVELOPE_PROTO) and params and results are the rpc's request and response
 * types, found from the method name "pkg.Service.Method". The method table is built now, from
 * `proto` and `root` together: load every .proto first. Each connection gets its own session
 * (fork), which remembers the methods of the calls in flight so their results can be typed.
 * Throws an Error for a .proto that cannot be loaded, a TypeError for bad options.
 */
export function protobuf(options: ProtobufOptions = {}): ProtobufCodec {
  const longs = options.longs ?? "string";
  if (!LONGS.includes(longs)) throw new TypeError(`rpc: protobuf: option longs must be "string", "bigint" or "number", got ${String(longs)}`);
  const roots: Root[] = [];
  if (options.proto !== undefined) roots.push(loadRoot(typeof options.proto === "string" ? options.proto : [...options.proto]));
  if (options.root !== undefined) for (const root of Array.isArray(options.root) ? options.root : [options.root as Root]) roots.push(loadRoot(root));
  const methods = methodTypes(roots);
  return {
    name: "protobuf",
    methods,
    roots,
    longs,
    fork: () => new ProtobufSession(methods, longs),
  };
}
