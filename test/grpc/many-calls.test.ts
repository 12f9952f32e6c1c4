// Thousands of calls on one HTTP/2 connection, both ways with @grpc/grpc-js: nothing per call may
// pile up (a reset per finished stream makes node's server end the session as a rapid-reset attack).
import t from "tap";
import { Server, dial } from "../../index.js";
import { User, USER_PROTO } from "../../examples/services.js";
import { userService } from "../../bench/grpc-service.js";
import { grpc } from "../helpers/grpcjs.js";

const CALLS = 3000;

t.test(`${CALLS} sequential unary calls on one connection, our client to our server and to grpc-js`, async (t) => {
  const server = new Server();
  server.register(new User(), { service: "user.User", proto: USER_PROTO });
  t.teardown(() => server.close());
  const ours = await server.listen("grpc://127.0.0.1:0");

  const theirs = new grpc.Server();
  theirs.addService(userService, {
    GetUser: (call: grpc.ServerUnaryCall<{ id: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { id: call.request.id, name: "bala", phone: "13100001111" }),
  });
  const port = await new Promise<number>((resolve, reject) => theirs.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  t.teardown(() => theirs.forceShutdown());

  for (const [label, url] of [["our server", ours.url], ["grpc-js server", `grpc://127.0.0.1:${port}`]] as const) {
    const client = await dial(url, { proto: USER_PROTO });
    let ok = 0;
    let failure: unknown;
    for (let i = 0; i < CALLS && failure === undefined; i++) {
      try {
        const reply = (await client.call("user.User.GetUser", { id: "1" })) as { name: string };
        if (reply.name === "bala") ok++;
      } catch (err) {
        failure = err;
      }
    }
    t.equal(failure, undefined, `${label}: no call failed`);
    t.equal(ok, CALLS, `${label}: every call answered`);
    t.equal(client.pending, 0, `${label}: nothing left pending`);
    await client.close();
  }
});
