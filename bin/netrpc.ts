#!/usr/bin/env node
// netrpc command line: call a method on any netrpc (or Go net/rpc/jsonrpc) server.
import { parseArgs } from "node:util";
import { dial, RpcError, codecNamed, type Metadata } from "../index.js";

const USAGE = `usage: netrpc call <address> <Service.Method> ['<json params>'] [options]

  address          tcp://host:port, unix:///path, or host:port
  --codec NAME     wire codec: json (default), msgpack, protobuf
  --proto FILE     .proto declaring the service (protobuf; repeatable)
  --metadata k=v   send metadata (repeatable)
  --timeout MS     fail with DEADLINE_EXCEEDED after MS milliseconds

Prints the result as JSON on stdout; on failure prints the error code and message on
stderr and exits 1 (2 for a usage error).`;

function usage(message?: string): never {
  if (message) process.stderr.write(`netrpc: ${message}\n`);
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}

function parseMetadata(pairs: string[]): Metadata {
  const md: Metadata = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) usage(`--metadata takes key=value, got ${JSON.stringify(pair)}`);
    const key = pair.slice(0, eq).toLowerCase();
    const value = pair.slice(eq + 1);
    const prev = md[key];
    md[key] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  return md;
}

async function call(args: string[], opts: { codec?: string; proto?: string[]; metadata?: string[]; timeout?: string }): Promise<number> {
  const [address, method, paramsText] = args;
  if (!address || !method) usage("call needs an address and a method");
  let params: unknown;
  try {
    params = paramsText === undefined ? undefined : JSON.parse(paramsText);
  } catch (err) {
    usage(`params are not JSON: ${(err as Error).message}`);
  }
  const timeout = opts.timeout === undefined ? undefined : Number(opts.timeout);
  if (timeout !== undefined && !(timeout >= 0)) usage(`--timeout takes milliseconds, got ${JSON.stringify(opts.timeout)}`);
  // Without --codec the address's ?codec= (or JSON) decides; --proto alone means protobuf.
  const proto = opts.proto?.length ? { proto: opts.proto } : {};
  const name = opts.codec ?? (opts.proto?.length && !new URL(address.includes("://") ? address : `tcp://${address}`).searchParams.get("codec") ? "protobuf" : undefined);
  const client = await dial(address, { ...proto, ...(name === undefined ? {} : { codec: codecNamed(name, proto) }) });
  try {
    const result = await client.call(method, params, { metadata: parseMetadata(opts.metadata ?? []), ...(timeout === undefined ? {} : { timeout }) });
    process.stdout.write(`${JSON.stringify(result ?? null, null, 2)}\n`);
    return 0;
  } finally {
    await client.close();
  }
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        codec: { type: "string" },
        proto: { type: "string", multiple: true },
        metadata: { type: "string", multiple: true },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (command !== "call") usage(command ? `unknown command ${JSON.stringify(command)}` : undefined);
  return call(rest, values);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof TypeError || err instanceof RangeError) usage(err.message);
    const e = RpcError.from(err);
    process.stderr.write(`error: ${e.codeName} (${e.code}): ${e.message}\n`);
    process.exit(1);
  },
);
