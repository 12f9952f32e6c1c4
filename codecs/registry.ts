// Codecs by name, so a URL's ?codec= or a CLI flag can pick one.
import type { Codec } from "../core/codec.js";
import { json } from "./json.js";
import { msgpack } from "./msgpack.js";
import { protobuf } from "./protobuf/index.js";

const codecs = new Map<string, Codec>();

export function registerCodec(codec: Codec): void {
  codecs.set(codec.name, codec);
}

registerCodec(json);
registerCodec(msgpack);

/** Where a codec needs its .proto files (protobuf). */
export interface CodecChoice {
  proto?: string | readonly string[];
}

/** A codec by name; "protobuf" is built from `proto`, since it cannot work without its descriptors. */
export function codecNamed(name: string, choice: CodecChoice = {}): Codec {
  if (name === "protobuf") {
    if (choice.proto === undefined) throw new TypeError("rpc: codec protobuf needs its .proto files (hint: { proto: \"user.proto\" } or --proto user.proto)");
    return protobuf({ proto: choice.proto });
  }
  const codec = codecs.get(name);
  if (!codec) throw new TypeError(`rpc: unknown codec ${JSON.stringify(name)} (known: ${[...codecs.keys(), "protobuf"].join(", ")})`);
  return codec;
}

/** The codec a URL asks for with ?codec=, else the fallback. */
export function codecFor(url: URL, fallback: Codec = json, choice: CodecChoice = {}): Codec {
  const name = url.searchParams.get("codec");
  return name ? codecNamed(name, choice) : fallback;
}
