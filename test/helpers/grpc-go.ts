// Builds grpc-go's official interop client (google.golang.org/grpc/interop/client) and a server
// of its TestService (test/go/grpc-interop/server, serving interop.NewTestServer) offline, once
// per toolchain and source, into os.tmpdir().
//
// Where the Go sources come from, all Debian packages:
//   - grpc-go itself and its dependencies: golang-google-grpc-dev, under /usr/share/gocode;
//   - interop/: left out of that binary package, so it is taken from the same version's source
//     package (golang-google-grpc_<version>.orig.tar.*), fetched beforehand with
//     `apt-get source --download-only golang-google-grpc` into GRPC_GO_SRC_DIR;
//   - interop/grpc_testing's generated code needs protobuf APIv2 (google.golang.org/protobuf and
//     github.com/golang/protobuf >= 1.4): golang-github-golang-protobuf-1-5-dev, which replaces
//     the -1-3-dev that golang-google-grpc-dev pulls in by default.
// The build is GOPATH mode (GO111MODULE=off, GOPROXY=off): Debian's tree plus interop/ laid
// over it in a temporary GOPATH entry, so nothing is downloaded.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { access, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { GO_MISSING_REASON, goVersion, repoRoot } from "./go.js";

/** Debian's GOPATH for -dev packages of Go sources. */
export const DEBIAN_GOCODE = "/usr/share/gocode";
const GRPC_DIR = path.join(DEBIAN_GOCODE, "src/google.golang.org/grpc");

/** Where the golang-google-grpc source package's orig tarball is looked for. */
export const GRPC_GO_SRC_DIR =
  process.env.NETRPC_GRPC_GO_SRC ||
  path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "netrpc", "grpc-go-src");

const SERVER_WRAPPER = path.join(repoRoot, "test/go/grpc-interop/server");

export interface GrpcGoInterop {
  /** grpc-go's version (Debian's golang-google-grpc-dev). */
  version: string;
  /** grpc-go's interop client, unchanged. */
  client: string;
  /** interop.NewTestServer() behind -listen/LISTENING (test/go/grpc-interop/server). */
  server: string;
  /** Milliseconds the build took, or null when an earlier build was reused. */
  buildMs: number | null;
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p, fsConstants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** grpc-go's version from Debian's tree, or null when golang-google-grpc-dev is not installed. */
async function grpcVersion(): Promise<string | null> {
  try {
    const src = await readFile(path.join(GRPC_DIR, "version.go"), "utf8");
    return /const Version = "([^"]+)"/.exec(src)?.[1] ?? null;
  } catch {
    return null;
  }
}

/** The orig tarball of grpc-go `version`'s Debian source package, or null. */
async function findTarball(version: string): Promise<string | null> {
  let names: string[];
  try {
    names = await readdir(GRPC_GO_SRC_DIR);
  } catch {
    return null;
  }
  const name = names.find((n) => n.startsWith(`golang-google-grpc_${version}.orig.tar.`));
  return name ? path.join(GRPC_GO_SRC_DIR, name) : null;
}

/**
 * Why grpc-go's interop programs cannot be built here (a missing toolchain, package or source),
 * or null when everything they need is present. A build can still fail after null; that is an error.
 */
export async function grpcGoMissing(): Promise<string | null> {
  if (goVersion() === null) return GO_MISSING_REASON;
  const version = await grpcVersion();
  if (version === null) return `grpc-go's sources are not under ${DEBIAN_GOCODE}: install Debian's golang-google-grpc-dev`;
  const protoV1 = await readFile(path.join(DEBIAN_GOCODE, "src/github.com/golang/protobuf/proto/proto.go"), "utf8").catch(() => "");
  if (!(await exists(path.join(DEBIAN_GOCODE, "src/google.golang.org/protobuf/runtime/protoimpl"))) || !protoV1.includes("ProtoPackageIsVersion4")) {
    return "grpc-go's interop protos need protobuf APIv2: install Debian's golang-github-golang-protobuf-1-5-dev (it replaces -1-3-dev)";
  }
  if ((await findTarball(version)) === null) {
    return (
      `grpc-go ${version}'s interop/ sources are missing: Debian leaves them out of golang-google-grpc-dev; ` +
      `put its source package's golang-google-grpc_${version}.orig.tar.* in ${GRPC_GO_SRC_DIR} ` +
      "(apt-get source --download-only golang-google-grpc, with a deb-src entry) or set NETRPC_GRPC_GO_SRC to its folder"
    );
  }
  return null;
}

function run(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
      (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: unknown };
          const why = e.killed ? `timed out after ${opts.timeoutMs} ms` : `exit ${String(e.code)}${e.signal ? ` (${String(e.signal)})` : ""}`;
          reject(new Error(`${path.basename(file)} ${args.join(" ")}: ${why}\n${stderr}${stdout}`.trim()));
          return;
        }
        resolve(stdout);
      },
    );
  });
}

/** GOCACHE under os.tmpdir() when go's default one is not writable (a read-only HOME). */
async function goCacheEnv(): Promise<NodeJS.ProcessEnv> {
  if (process.env.GOCACHE) return {};
  const home = process.env.HOME || "";
  const xdg = process.env.XDG_CACHE_HOME || (home ? path.join(home, ".cache") : "");
  if (xdg) {
    try {
      await mkdir(path.join(xdg, "go-build"), { recursive: true });
      await access(path.join(xdg, "go-build"), fsConstants.W_OK);
      return {};
    } catch {
      // fall through to a temporary cache
    }
  }
  const cache = path.join(os.tmpdir(), "netrpc-go-env", "cache");
  await mkdir(cache, { recursive: true });
  return { GOCACHE: cache };
}

let building: Promise<GrpcGoInterop> | undefined;

/** Build (or reuse) the binaries; call only after grpcGoMissing() returned null. */
export function buildGrpcGoInterop(opts: { timeoutMs?: number } = {}): Promise<GrpcGoInterop> {
  if (!building) {
    building = doBuild(opts.timeoutMs ?? 300_000);
    building.catch(() => (building = undefined));
  }
  return building;
}

async function doBuild(timeoutMs: number): Promise<GrpcGoInterop> {
  const missing = await grpcGoMissing();
  if (missing !== null) throw new Error(missing);
  const version = (await grpcVersion())!;
  const tarball = (await findTarball(version))!;
  const wrapper = await readFile(path.join(SERVER_WRAPPER, "main.go"));
  const hash = createHash("sha256")
    .update(`${goVersion()}\0${process.platform}/${process.arch}\0${version}\0${path.basename(tarball)}\0${(await stat(tarball)).size}\0`)
    .update(wrapper)
    .digest("hex")
    .slice(0, 16);
  const outDir = path.join(os.tmpdir(), `netrpc-grpc-go-${hash}`);
  const client = path.join(outDir, "interop-client");
  const server = path.join(outDir, "interop-server");
  if ((await exists(client)) && (await exists(server))) return { version, client, server, buildMs: null };

  const started = Date.now();
  await mkdir(outDir, { recursive: true });
  const work = await mkdtemp(path.join(outDir, ".work-"));
  try {
    // GOPATH entry: google.golang.org/grpc = Debian's tree (each entry linked) + interop/ from the tarball.
    const grpcDir = path.join(work, "src/google.golang.org/grpc");
    await mkdir(grpcDir, { recursive: true });
    for (const entry of await readdir(GRPC_DIR)) {
      if (entry !== "interop") await symlink(path.join(GRPC_DIR, entry), path.join(grpcDir, entry));
    }
    const listing = await run("tar", ["-tf", tarball], { timeoutMs });
    const top = listing.split("\n")[0]!.split("/")[0]!;
    await run("tar", ["-xf", tarball, "-C", grpcDir, "--strip-components=1", `${top}/interop`], { timeoutMs });

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      GO111MODULE: "off",
      GOPATH: `${work}${path.delimiter}${DEBIAN_GOCODE}`,
      GOPROXY: "off",
      GOFLAGS: "",
      GOTOOLCHAIN: "local",
      ...(await goCacheEnv()),
    };
    // Private names, then rename: a concurrent builder never sees half a binary.
    const tmpClient = path.join(work, "interop-client");
    const tmpServer = path.join(work, "interop-server");
    await run("go", ["build", "-o", tmpClient, "google.golang.org/grpc/interop/client"], { cwd: work, env, timeoutMs });
    await run("go", ["build", "-o", tmpServer, "main.go"], { cwd: SERVER_WRAPPER, env, timeoutMs });
    await rename(tmpClient, client);
    await rename(tmpServer, server);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { version, client, server, buildMs: Date.now() - started };
}
