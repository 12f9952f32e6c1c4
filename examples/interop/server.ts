// The gRPC interop test server: grpc.testing.TestService over gRPC (HTTP/2), for any interop client.
//   npm run interop-server -- --port=10000 [--host=127.0.0.1] [--use_tls=true [--tls_cert_file=F --tls_key_file=F]]
// Prints "LISTENING host:port" when ready; SIGTERM or SIGINT stops it after the calls in flight.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Server } from "../../index.js";
import { TEST_PROTO, UsageError, hostPort, parseFlags, portFlag } from "./flags.js";
import { TestService } from "./test-service.js";

interface Tls {
  key: Buffer;
  cert: Buffer;
  /** The generated certificate's file, for clients' --ca_file; undefined for the caller's own. */
  generated: string | undefined;
}

/**
 * A throwaway self-signed certificate from `openssl`, valid for localhost, the loopback addresses,
 * the host we bind, and *.test.google.fr (the name official clients claim with --server_host_override).
 */
function selfSigned(host: string): Tls {
  const dir = mkdtempSync(path.join(os.tmpdir(), "netrpc-interop-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const key = path.join(dir, "server.key");
  const cert = path.join(dir, "server.pem");
  const names = new Set(["DNS:localhost", "DNS:*.test.google.fr", "IP:127.0.0.1", "IP:::1"]);
  if (host !== "0.0.0.0" && host !== "::") names.add(/^[\d.]+$|:/.test(host) ? `IP:${host}` : `DNS:${host}`);
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost", "-addext", `subjectAltName=${[...names].join(",")}`], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    throw new UsageError(`--use_tls without --tls_cert_file/--tls_key_file needs openssl on PATH to make a certificate: ${(err as Error).message}`);
  }
  return { key: readFileSync(key), cert: readFileSync(cert), generated: cert };
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), { strings: ["port", "host", "tls_cert_file", "tls_key_file"], booleans: ["use_tls"] });
  const port = portFlag("port", flags.strings.get("port"));
  const host = flags.strings.get("host") ?? "127.0.0.1";
  const useTls = flags.booleans.get("use_tls") ?? false;
  const certFile = flags.strings.get("tls_cert_file");
  const keyFile = flags.strings.get("tls_key_file");
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError("--tls_cert_file and --tls_key_file go together");
  if (certFile !== undefined && !useTls) throw new UsageError("--tls_cert_file needs --use_tls=true");

  const tls: Tls | undefined = !useTls ? undefined : certFile ? { key: readFileSync(keyFile!), cert: readFileSync(certFile), generated: undefined } : selfSigned(host);
  return serve(host, port, tls);
}

async function serve(host: string, port: number, tls: Tls | undefined): Promise<void> {
  const server = new Server();
  server.register(new TestService(), { service: "grpc.testing.TestService", proto: TEST_PROTO });
  const address = hostPort(host, port);
  const listener = tls
    ? await server.listen(`grpcs://${address}`, { tls: { key: tls.key, cert: tls.cert } })
    : await server.listen(`grpc://${address}`);
  if (tls?.generated) process.stdout.write(`TLS_CERT ${tls.generated}\n`);
  process.stdout.write(`LISTENING ${hostPort(host, listener.port!)}\n`);

  const stop = () => {
    process.removeListener("SIGTERM", stop);
    process.removeListener("SIGINT", stop);
    // A client holding a stream open would keep shutdown() waiting: cut it after a few seconds,
    // or at once on a second signal.
    const cut = setTimeout(() => void server.close(), 5_000);
    cut.unref();
    process.once("SIGTERM", () => void server.close());
    process.once("SIGINT", () => void server.close());
    void server.shutdown().then(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`interop server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
