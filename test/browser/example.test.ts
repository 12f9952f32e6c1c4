// The browser example as a person runs it: `npm run example-browser`, then the page in Chromium,
// for each codec. Without Chromium the file is skipped, except in CI (CI=true), where that is a failure.
import t from "tap";
import { bounded } from "../helpers/net.js";
import { startTs } from "../helpers/process.js";
import { CHROMIUM_MISSING_REASON, chromiumAvailable, launchChromium, openPage } from "../helpers/browser.js";

if (!chromiumAvailable()) {
  if (process.env.CI === "true") t.fail(`${CHROMIUM_MISSING_REASON} (CI=true, so the browser tests must run)`);
  else t.plan(0, `skipped: ${CHROMIUM_MISSING_REASON}`);
} else {
  const example = await startTs("examples/browser/server.ts", ["--listen", "127.0.0.1:0"], 1, 60_000);
  t.teardown(() => void example.child.kill("SIGKILL"));
  const url = example.urls[0]!;
  const browser = await launchChromium(t);
  // Only after the last await: tap's root test, once it has a teardown, ends itself when it goes
  // idle after an assertion, and would then refuse the subtests below.
  t.match(url, /^http:\/\/127\.0\.0\.1:[1-9]\d*\/$/, "port 0 is reported as the real port");

  for (const codec of ["json", "msgpack"]) {
    t.test(`the page's calls over ${codec}`, async (t) => {
      const { page, errors } = await openPage(browser, `${url}?codec=${codec}`, `document.getElementById("status").textContent !== "running"`);
      t.teardown(() => page.close().catch(() => {}));
      t.equal(await page.textContent("#codec"), codec);
      t.equal(await page.textContent("#status"), "done", "every call on the page went as expected");
      const log = await page.locator("#log li").allTextContents();
      t.same(log, [
        'UserServer.GetUser {id: "1"} → {"Id":"1","Name":"bala","Phone":"13100001111"}',
        "Arith.Multiply 7×8 → 56",
        "Arith.Divide 1/0 → UNKNOWN: divide by zero",
        "Counter.Count 5 (server stream) → [0,1,2,3,4]",
        "Counter.Sum 1, 2, 3, 4 (bidi stream) → [1,3,6,10]",
      ]);

      // The form, as a person would use it.
      await page.fill("input[name=id]", "2");
      await page.click("button");
      await page.waitForFunction(`document.getElementById("user").textContent !== ""`, undefined, { timeout: 10_000 });
      t.equal(await page.textContent("#user"), '{"Id":"2","Name":"小王","Phone":"13200001111"}');
      await page.fill("input[name=id]", "9");
      await page.click("button");
      await page.waitForFunction(`document.getElementById("user").textContent.startsWith("NOT_FOUND")`, undefined, { timeout: 10_000 });
      t.equal(await page.textContent("#user"), "NOT_FOUND: user not found");
      t.same(errors, [], "the page logged no errors");
    });
  }

  t.test("the example stops on SIGTERM", async (t) => {
    example.child.kill("SIGTERM");
    t.equal(await bounded(example.exited, 10_000, "the example's exit"), 0);
  });
}
