// gRPC interop against the official grpc-go implementation (Debian's golang-google-grpc-dev,
// built offline by test/helpers/grpc-go.ts):
//   (a) grpc-go's interop client -> our interop server (examples/interop/server.ts), case by case;
//   (b) our interop client (examples/interop/client.ts) -> grpc-go's TestService, case by case.
// When Go, the Debian packages or grpc-go's interop sources are missing the file is skipped with
// the reason, except in CI (CI=true), where that is a failure.
import t from "tap";
import { INTEROP_CASES } from "../helpers/grpc-spec.js";
import { spawn } from "node:child_process";
import path from "node:path";
import { startGoServer } from "../helpers/go.js";
import { buildGrpcGoInterop, grpcGoMissing } from "../helpers/grpc-go.js";
import { runTs, startTs } from "../helpers/process.js";

const CLIENT = "examples/interop/client.ts";
const SERVER = "examples/interop/server.ts";

const CASES = INTEROP_CASES;

/** No single case takes more than a second or two; a hung one fails instead of hanging the file. */
const CASE_TIMEOUT_MS = 30_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Run a binary to completion (bounded; killed past the limit), stdout and stderr interleaved. */
function runBinary(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let output = "";
    const add = (s: string) => {
      if (output.length < 256 * 1024) output += s;
    };
    child.stdout.setEncoding("utf8").on("data", add);
    child.stderr.setEncoding("utf8").on("data", add);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output: timedOut ? `${output}\n(killed: no exit within ${timeoutMs} ms)` : output });
    });
  });
}

const missing = await grpcGoMissing();
if (missing !== null) {
  if (process.env.CI === "true") t.fail(`${missing} (CI=true, so the grpc-go interop must run)`);
  else t.plan(0, `skipped: ${missing}`);
} else {
  // A cold build takes most of a minute on two cores, longer beside the rest of the suite; the
  // build and every case stay bounded on their own.
  t.setTimeout(420_000);
  const go = await buildGrpcGoInterop();
  t.comment(
    go.buildMs === null
      ? `grpc-go ${go.version} interop binaries reused from ${path.dirname(go.client)}`
      : `grpc-go ${go.version} interop binaries built in ${(go.buildMs / 1000).toFixed(1)} s`,
  );

  t.test("(a) grpc-go's interop client -> our interop server", async (t) => {
    const ours = await startTs(SERVER, ["--port=0"], 1);
    t.teardown(() => void ours.child.kill("SIGKILL"));
    const m = /^(.+):(\d+)$/.exec(ours.urls[0]!);
    if (!m) throw new Error(`unexpected LISTENING address ${ours.urls[0]}`);
    const [, host, port] = m;

    const unsupported: string[] = [];
    for (const name of CASES) {
      // Info-level logs say how far a failing case got; they are printed only on failure.
      const run = await runBinary(
        go.client,
        [`--server_host=${host!}`, `--server_port=${port!}`, `--test_case=${name}`],
        { GRPC_GO_LOG_SEVERITY_LEVEL: "info" },
        CASE_TIMEOUT_MS,
      );
      if (run.code !== 0 && new RegExp(`Unsupported test case:\\s+${name}\\b`).test(run.output)) unsupported.push(name);
      else t.equal(run.code, 0, `${name} exits 0`, { output: run.output, signal: run.signal });
    }
    // Pinned, so that no other case can quietly turn "unsupported": these two run between our
    // ends and against grpc-js in interop.test.ts.
    t.same(unsupported, ["client_compressed_unary", "server_compressed_unary"], `the cases grpc-go ${go.version}'s interop client does not have`);
  });

  t.test("(b) our interop client -> grpc-go's TestService", async (t) => {
    const server = await startGoServer(go.server);
    t.teardown(() => server.close());

    for (const name of CASES) {
      await t.test(name, async (t) => {
        const run = await runTs(CLIENT, [`--server_host=${server.host}`, `--server_port=${server.port}`, `--test_case=${name}`], CASE_TIMEOUT_MS);
        if (name === "client_compressed_unary") {
          // grpc-go 1.33's TestService predates expect_compressed (its test.proto has no such
          // field), so it accepts the uncompressed probe the case requires it to refuse; our client
          // must notice and fail the case rather than pass it.
          t.match(
            run.stdout,
            /^FAIL client_compressed_unary: the uncompressed probe with expect_compressed=true: the call succeeded, expected INVALID_ARGUMENT$/m,
            "our client reports that the server ignored expect_compressed",
            { code: run.code, stderr: run.stderr },
          );
          return;
        }
        t.equal(run.code, 0, `${name} exits 0`, { stdout: run.stdout, stderr: run.stderr });
      });
    }
  });
}
