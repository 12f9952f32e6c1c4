// Command-line flags as the official interop runners pass them: --name=value, --name value, and
// booleans as a bare --name or --name=true/false.
import { fileURLToPath } from "node:url";

/** test.proto (it imports empty.proto and messages.proto from its own directory). */
export const TEST_PROTO = fileURLToPath(new URL("./protos/test.proto", import.meta.url));

export interface FlagSpec {
  strings: readonly string[];
  booleans: readonly string[];
}

export type Flags = { strings: Map<string, string>; booleans: Map<string, boolean> };

export class UsageError extends Error {}

function parseBool(name: string, value: string): boolean {
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new UsageError(`--${name} takes true or false, got ${JSON.stringify(value)}`);
}

export function parseFlags(argv: readonly string[], spec: FlagSpec): Flags {
  const flags: Flags = { strings: new Map(), booleans: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([a-z_][a-z0-9_]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const name = m[1]!;
    let value = m[2];
    if (spec.booleans.includes(name)) {
      if (value === undefined && (argv[i + 1] === "true" || argv[i + 1] === "false")) value = argv[++i];
      flags.booleans.set(name, value === undefined ? true : parseBool(name, value));
    } else if (spec.strings.includes(name)) {
      if (value === undefined) {
        if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
        value = argv[++i]!;
      }
      flags.strings.set(name, value);
    } else {
      throw new UsageError(`unknown flag --${name}`);
    }
  }
  return flags;
}

/** A port flag: an integer 0..65535. */
export function portFlag(name: string, value: string | undefined): number {
  if (value === undefined) throw new UsageError(`--${name} is required`);
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new UsageError(`--${name} must be a port number, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** host:port for URLs, with IPv6 literals bracketed. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
}
