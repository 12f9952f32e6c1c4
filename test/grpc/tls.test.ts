// grpcs://: gRPC over TLS with ALPN h2, against @grpc/grpc-js and our own client, and mutual TLS.
import t from "tap";
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { Server, dial, Code } from "../../index.js";
import { User, USER_PROTO } from "../../examples/services.js";
import { makeCerts } from "../helpers/certs.js";
import { rejection, type Teardown } from "../helpers/net.js";

const certs = makeCerts();
const root = protobuf.loadSync(USER_PROTO);
const Req = root.lookupType("user.GetUserReq");
const Resp = root.lookupType("user.GetUserResp");
const UserClient = grpc.makeGenericClientConstructor(
  {
    GetUser: {
      path: "/user.User/GetUser",
      requestStream: false,
      responseStream: false,
      requestSerialize: (v: object) => Buffer.from(Req.encode(Req.fromObject(v)).finish()),
      requestDeserialize: (b: Buffer) => Req.toObject(Req.decode(b)),
      responseSerialize: (v: object) => Buffer.from(Resp.encode(Resp.fromObject(v)).finish()),
      responseDeserialize: (b: Buffer) => Resp.toObject(Resp.decode(b)),
    },
  },
  "User",
);

function grpcJsCall(port: number, creds: grpc.ChannelCredentials, id: string): Promise<{ err: grpc.ServiceError | null; value: unknown }> {
  const client = new UserClient(`localhost:${port}`, creds) as unknown as grpc.Client & {
    GetUser(req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, v: unknown) => void): void;
  };
  return new Promise((resolve) => {
    client.GetUser({ id }, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, value) => {
      client.close();
      resolve({ err, value });
    });
  });
}

async function startTls(t: Teardown, requestCert: boolean) {
  const server = new Server();
  server.register(new User(), { service: "user.User", proto: USER_PROTO });
  const listener = await server.listen("grpcs://127.0.0.1:0", {
    tls: { key: certs.serverKey, cert: certs.serverCert, ...(requestCert ? { ca: certs.ca, requestCert: true, rejectUnauthorized: true } : {}) },
  });
  t.teardown(() => server.close());
  return listener;
}

t.test("grpcs:// serves @grpc/grpc-js and our client; the certificate is checked", async (t) => {
  const { port, url } = await startTls(t, false);
  const ok = await grpcJsCall(port!, grpc.credentials.createSsl(certs.ca), "1");
  t.equal(ok.err, null);
  t.same(ok.value, { id: "1", name: "bala", phone: "13100001111" }, "grpc-js over TLS (ALPN h2)");
  const missing = await grpcJsCall(port!, grpc.credentials.createSsl(certs.ca), "9");
  t.equal(missing.err?.code, grpc.status.NOT_FOUND);

  const ours = await dial(url, { proto: USER_PROTO, tls: { ca: certs.ca, servername: "localhost" } });
  t.same(await ours.call("user.User.GetUser", { id: "2" }), { id: "2", name: "小王", phone: "13200001111" }, "our client over TLS");
  await ours.close();

  const untrusted = await rejection(dial(url, { proto: USER_PROTO, tls: { ca: certs.otherCa, servername: "localhost" } }), "dial");
  t.equal(untrusted.code, Code.UNAVAILABLE, "a server certificate from an unknown CA is refused");
  t.match(untrusted.message, /certificate/);
});

t.test("mutual TLS: the server checks client certificates", async (t) => {
  const { port, url } = await startTls(t, true);
  const withCert = await grpcJsCall(port!, grpc.credentials.createSsl(certs.ca, certs.clientKey, certs.clientCert), "1");
  t.equal(withCert.err, null, "grpc-js with a client certificate");
  const withoutCert = await grpcJsCall(port!, grpc.credentials.createSsl(certs.ca), "1");
  t.equal(withoutCert.err?.code, grpc.status.UNAVAILABLE, "grpc-js without one is refused");

  const ours = await dial(url, { proto: USER_PROTO, tls: { ca: certs.ca, servername: "localhost", key: certs.clientKey, cert: certs.clientCert } });
  t.same(await ours.call("user.User.GetUser", { id: "1" }), { id: "1", name: "bala", phone: "13100001111" }, "our client with a client certificate");
  await ours.close();
  // TLS 1.3 sends the client's certificate after the handshake: the refusal may come at dial or at the first call.
  const refused = await rejection(
    dial(url, { proto: USER_PROTO, tls: { ca: certs.ca, servername: "localhost" } }).then((c) => c.call("user.User.GetUser", { id: "1" }).finally(() => c.close())),
    "call without a client certificate",
  );
  t.equal(refused.code, Code.UNAVAILABLE, "our client without one is refused");
});

t.test("grpcs:// needs certificates", async (t) => {
  const server = new Server();
  t.teardown(() => server.close());
  await t.rejects(server.listen("grpcs://127.0.0.1:0"), { message: /grpcs needs options\.tls/ });
});
