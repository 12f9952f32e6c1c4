// Drives the browser client's tests: Debian's Chromium through playwright-core, the browser
// entry bundled with esbuild, and a static page served by node:http on 127.0.0.1:0.
//
// Every wait is bounded. playwright-core never downloads a browser: it drives /usr/bin/chromium
// (or $NETRPC_CHROMIUM), and is pinned to the release built against that Chromium's major.
import { accessSync, constants as fsConstants } from "node:fs";
import http from "node:http";
import path from "node:path";
import * as esbuild from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { repoRoot } from "./go.js";
import { bounded, type Teardown } from "./net.js";

export const CHROMIUM = process.env.NETRPC_CHROMIUM ?? "/usr/bin/chromium";

/** Skip reason when Chromium is missing outside CI; in CI (CI=true) that is a failure, not a skip. */
export const CHROMIUM_MISSING_REASON = `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run the browser tests`;

/** The browser entry point, bundled for the tests and the example page. */
export const BROWSER_ENTRY = path.join(repoRoot, "transports/browser.ts");

export function chromiumAvailable(): boolean {
  try {
    accessSync(CHROMIUM, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Headless Chromium, closed at teardown. --no-sandbox: CI runs as root, where the sandbox refuses to start. */
export async function launchChromium(t: Teardown): Promise<Browser> {
  const browser = await bounded(chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"], timeout: 60_000 }), 90_000, "launch chromium");
  t.teardown(() => bounded(browser.close(), 30_000, "close chromium").catch(() => {}));
  return browser;
}

export interface Bundle {
  /** The ESM bundle's text. */
  code: string;
  /** Every module esbuild read, as its metafile names them (node builtins would show as "node:…"). */
  inputs: string[];
  /** Imports esbuild left out of the bundle (none expected for a self-contained browser bundle). */
  external: string[];
}

/** Bundles `entry` for browsers as one ESM file, in memory, with esbuild's metafile. */
export async function bundleForBrowser(entry = BROWSER_ENTRY): Promise<Bundle> {
  const result = await bounded(
    esbuild.build({
      entryPoints: [entry],
      platform: "browser",
      format: "esm",
      bundle: true,
      metafile: true,
      write: false,
      target: "es2022",
      logLevel: "silent",
    }),
    120_000,
    "esbuild bundle",
  );
  const code = result.outputFiles[0]!.text;
  const inputs = Object.keys(result.metafile.inputs);
  const external: string[] = [];
  for (const input of Object.values(result.metafile.inputs)) {
    for (const imp of input.imports) if (imp.external) external.push(imp.path);
  }
  return { code, inputs, external };
}

export interface StaticFile {
  type: string;
  body: string;
}

/** Serves fixed files from node:http on 127.0.0.1:0; closed at teardown. Returns the base URL. */
export async function serveStatic(t: Teardown, files: Readonly<Record<string, StaticFile>>): Promise<string> {
  const server = http.createServer((req, res) => {
    const file = files[new URL(req.url ?? "/", "http://localhost").pathname];
    if (!file) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": file.type, "cache-control": "no-store" }).end(file.body);
  });
  await bounded(new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  }), 10_000, "static server listen");
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as { port: number };
  return `http://127.0.0.1:${port}`;
}

/**
 * Opens `url` in a new page and waits (bounded) until `ready` is true in it. Uncaught page
 * errors and console errors are collected, so a failing test can say what the page saw.
 */
export async function openPage(browser: Browser, url: string, ready: string, ms = 30_000): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`console: ${msg.text()}`);
  });
  page.setDefaultTimeout(ms);
  await page.goto(url, { timeout: ms });
  try {
    await page.waitForFunction(ready, undefined, { timeout: ms });
  } catch (err) {
    throw new Error(`${url}: ${ready} not true within ${ms} ms; the page said: ${errors.join(" | ") || "nothing"}`, { cause: err });
  }
  return { page, errors };
}
