// tap reporter (a program fed TAP on stdin): one line per test file, full TAP for failing files,
// then a closing "N passed, N failed, N skipped" line counted over every leaf assertion.
import { Parser } from "tap-parser";

const root = new Parser();
let section = [];
let failures = 0;
const totals = { pass: 0, fail: 0, skip: 0 };

/** Counts the leaf assertions of a parser: its own points, minus the ones that are subtests. */
function track(parser) {
  const children = [];
  parser.on("child", (child) => children.push(track(child)));
  const state = { done: false, pass: 0, fail: 0, skip: 0 };
  parser.on("assert", (point) => {
    const child = children.find((c) => c.name === point.name && !c.claimed);
    if (child) {
      child.claimed = true;
      // A subtest skipped from inside (t.plan(0, reason)) has a child with no assertions: count it.
      if (point.skip) child.skipped = true;
      return;
    }
    if (point.skip || point.todo) state.skip++;
    else if (point.ok) state.pass++;
    else state.fail++;
  });
  parser.on("complete", () => {
    for (const c of children) {
      state.pass += c.state.pass;
      state.fail += c.state.fail;
      state.skip += c.state.skip + (c.skipped ? 1 : 0);
    }
    state.done = true;
  });
  // A child parser's name is its subtest's name, which the parent's result line repeats.
  return {
    claimed: false,
    skipped: false,
    state,
    get name() {
      return parser.name;
    },
  };
}

const top = track(root);

root.on("line", (line) => {
  section.push(line);
});
root.on("assert", (point) => {
  if (!point.ok && !point.skip && !point.todo) {
    failures++;
    process.stdout.write(section.join(""));
  } else {
    const note = point.skip ? ` # SKIP ${point.skip === true ? "" : point.skip}` : "";
    process.stdout.write(`ok - ${point.name}${note}\n`);
  }
  section = [];
});
root.on("complete", () => {
  if (section.length) process.stdout.write(section.filter((l) => !/^\s*$/.test(l)).join(""));
  const { pass, fail, skip } = top.state;
  process.stdout.write(`\n${failures ? `${failures} test file(s) failed\n` : ""}tests: ${pass} passed, ${fail} failed, ${skip} skipped\n`);
});
process.stdin.pipe(root);
