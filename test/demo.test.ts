// `npm start` (examples/demo.ts) runs every transport and codec on loopback; this keeps it working.
import t from "tap";
import { runTs } from "./helpers/process.js";

t.test("the demo calls every transport and codec and exits cleanly", async (t) => {
  const run = await runTs("examples/demo.ts", [], 90_000);
  t.equal(run.code, 0, `exit code (stderr: ${run.stderr.slice(0, 500)})`);
  const out = run.stdout;
  for (const label of ["tcp  + json", "tcp  + msgpack", "tcp  + protobuf", "unix + json", "unix + msgpack", "grpc + protobuf", "grpc + json", "grpc + msgpack", "ws   + json", "ws   + msgpack", "ws   + protobuf", "ws on the tcp port", "tls  + json", "tls  + msgpack", "grpcs on the tls port", "wss on the tls port"]) {
    t.ok(out.includes(`\n${label}`), `shows ${label}`);
  }
  t.match(out, /tcp  \+ json\n(?:.*\n)*?  Counter\.Count +5 +-> stream \[0,1,2,3,4\]/, "streams over tcp");
  t.match(out, /ws   \+ msgpack \(binary messages\)\n(?:.*\n)*?  Counter\.Sum +\[1,2,3,4\] +-> stream \[1,3,6,10\]/, "streams over ws");
  t.match(out, /UserServer\.GetUser +\{"id":"2"\} +-> \{"Id":"2","Name":"小王"/, "a unary call");
  t.match(out, /done: every call above crossed a real socket/);
});
