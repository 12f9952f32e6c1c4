// grpc-timeout: at most eight digits and a unit (H, M, S, m, u, n).

const UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const MAX_DIGITS = 1e8;

/** The header value for `ms` milliseconds: the finest unit that fits in eight digits, rounded up. */
export function encodeTimeout(ms: number): string {
  if (ms < 1) return `${Math.max(1, Math.ceil(ms * 1000))}u`;
  for (const [unit, size] of [["m", 1], ["S", 1000], ["M", 60_000], ["H", 3_600_000]] as const) {
    const value = Math.ceil(ms / size);
    if (value < MAX_DIGITS) return `${value}${unit}`;
  }
  return `${MAX_DIGITS - 1}H`;
}

/** Milliseconds from a grpc-timeout value; undefined when it is malformed. */
export function parseTimeout(value: string): number | undefined {
  const m = TIMEOUT.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * UNITS[m[2]!]!;
}
