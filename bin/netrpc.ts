#!/usr/bin/env node
// netrpc command line: call a method on any netrpc (or Go net/rpc/jsonrpc) server.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { dial, RpcError, codecNamed, protobuf, type Metadata, type DialOptions } from "../index.js";
import { methodTypes } from "../codecs/protobuf/index.js";
import { fetchRoot, listServices } from "../transports/grpc/reflection-client.js";

const USAGE = `usage: netrpc call <address> <Service.Method> ['<json params>'] [options]
       netrpc list <grpc address> [Service]

  address          tcp://host:port, tls://host:port, unix:///path, host:port,
                   ws://host:port/path, wss://host:port/path, grpc://host:port or grpcs://host:port
  --codec NAME     wire codec: json (default), msgpack, protobuf
  --proto FILE     .proto declaring the service (protobuf; repeatable). Over grpc:// without
                   --proto, the service's descriptors are fetched by server reflection.
  --metadata k=v   send metadata (repeatable)
  --timeout MS     fail with DEADLINE_EXCEEDED after MS milliseconds
  --ca FILE        tls://, wss://, grpcs://: trust the CA certificate(s) in this PEM file
  --insecure       tls://, wss://, grpcs://: do not verify the server's certificate

Prints the result as JSON on stdout (a server stream prints one JSON document per reply; a
client or bidi stream takes a JSON array of requests). On failure prints the error code and
message on stderr and exits 1 (2 for a usage error). list prints the services a gRPC server
offers through reflection, or one service's methods.`;

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

interface Flags {
  codec?: string;
  proto?: string[];
  metadata?: string[];
  timeout?: string;
  ca?: string;
  insecure?: boolean;
}

function isGrpc(address: string): boolean {
  return /^grpcs?:\/\//.test(address);
}

function tlsOf(opts: Flags): Pick<DialOptions, "tls"> {
  if (!opts.ca && !opts.insecure) return {};
  let ca: Buffer | undefined;
  try {
    ca = opts.ca === undefined ? undefined : readFileSync(opts.ca);
  } catch (err) {
    usage(`--ca: ${(err as Error).message}`);
  }
  return { tls: { ...(ca ? { ca } : {}), ...(opts.insecure ? { rejectUnauthorized: false } : {}) } };
}

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value ?? null, null, 2)}\n`);

/** A gRPC call without --proto: the server describes the service through reflection. */
async function callByReflection(address: string, method: string, params: unknown, opts: Flags): Promise<number> {
  const service = method.slice(0, method.lastIndexOf("."));
  const root = await fetchRoot(address, [service], tlsOf(opts));
  const md = methodTypes(root).get(method);
  if (!md) throw new RpcError(12, `rpc: ${service} has no method ${method.slice(service.length + 1)}`);
  const client = await dial(address, { codec: protobuf({ root }), ...tlsOf(opts) });
  try {
    const options = callOptions(opts);
    const requests = () => {
      if (!Array.isArray(params)) usage(`${method} is a ${md.requestStream ? "client" : ""}streaming method: give its requests as a JSON array`);
      return params;
    };
    if (md.requestStream && md.responseStream) for await (const reply of client.bidiStream(method, requests(), options)) print(reply);
    else if (md.requestStream) print(await client.clientStream(method, requests(), options));
    else if (md.responseStream) for await (const reply of client.serverStream(method, params, options)) print(reply);
    else print(await client.call(method, params, options));
    return 0;
  } finally {
    await client.close();
  }
}

function callOptions(opts: Flags): { metadata: Metadata; timeout?: number } {
  const timeout = opts.timeout === undefined ? undefined : Number(opts.timeout);
  if (timeout !== undefined && !(timeout >= 0)) usage(`--timeout takes milliseconds, got ${JSON.stringify(opts.timeout)}`);
  return { metadata: parseMetadata(opts.metadata ?? []), ...(timeout === undefined ? {} : { timeout }) };
}

async function list(args: string[], opts: Flags): Promise<number> {
  const [address, service] = args;
  if (!address || !isGrpc(address)) usage("list needs a grpc:// or grpcs:// address");
  if (service === undefined) {
    for (const name of await listServices(address, tlsOf(opts))) process.stdout.write(`${name}\n`);
    return 0;
  }
  const root = await fetchRoot(address, [service], tlsOf(opts));
  for (const md of methodTypes(root).values()) {
    if (md.service !== service) continue;
    const stream = (on: boolean) => (on ? "stream " : "");
    process.stdout.write(`${md.name}(${stream(md.requestStream)}${md.requestType.fullName.slice(1)}) returns (${stream(md.responseStream)}${md.responseType.fullName.slice(1)})\n`);
  }
  return 0;
}

async function call(args: string[], opts: Flags): Promise<number> {
  const [address, method, paramsText] = args;
  if (!address || !method) usage("call needs an address and a method");
  let params: unknown;
  try {
    params = paramsText === undefined ? undefined : JSON.parse(paramsText);
  } catch (err) {
    usage(`params are not JSON: ${(err as Error).message}`);
  }
  if (isGrpc(address) && !opts.proto?.length && opts.codec === undefined) return callByReflection(address, method, params, opts);
  // Without --codec the address's ?codec= (or JSON) decides; --proto alone means protobuf.
  const proto = opts.proto?.length ? { proto: opts.proto } : {};
  const name = opts.codec ?? (opts.proto?.length && !new URL(address.includes("://") ? address : `tcp://${address}`).searchParams.get("codec") ? "protobuf" : undefined);
  const client = await dial(address, { ...proto, ...(name === undefined ? {} : { codec: codecNamed(name, proto) }), ...tlsOf(opts) });
  try {
    print(await client.call(method, params, callOptions(opts)));
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
        ca: { type: "string" },
        insecure: { type: "boolean" },
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
  if (command === "list") return list(rest, values);
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
