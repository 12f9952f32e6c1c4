// Codecs by name, so a URL's ?codec= or a CLI flag can pick one.
import type { Codec } from "../core/codec.js";
import { json } from "./json.js";
import { msgpack } from "./msgpack.js";

const codecs = new Map<string, Codec>();

export function registerCodec(codec: Codec): void {
  codecs.set(codec.name, codec);
}

registerCodec(json);
registerCodec(msgpack);

export function codecNamed(name: string): Codec {
  const codec = codecs.get(name);
  if (!codec) throw new TypeError(`rpc: unknown codec ${JSON.stringify(name)} (known: ${[...codecs.keys()].join(", ")})`);
  return codec;
}

/** The codec a URL asks for with ?codec=, else the fallback. */
export function codecFor(url: URL, fallback: Codec = json): Codec {
  const name = url.searchParams.get("codec");
  return name ? codecNamed(name) : fallback;
}
