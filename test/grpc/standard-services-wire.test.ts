// Health and reflection over real gRPC: an @grpc/grpc-js client against our server on
// grpc://127.0.0.1:0, exactly as grpc_health_probe or grpcurl would reach it.
import t from "tap";
import type * as grpc from "@grpc/grpc-js";
import { Server } from "../../core/server.js";
import { loadRoot } from "../../codecs/protobuf/index.js";
import { registerHealth } from "../../transports/grpc/health.js";
import { registerReflection } from "../../transports/grpc/reflection.js";
import { healthRoot, reflectionRoot } from "../../transports/grpc/standard-protos.js";
import { grpcJsClient, streamError, takeMessages } from "../helpers/grpc-js-client.js";
import { decodeFiles, rootFromFiles } from "../helpers/grpc-standard.js";
import { bounded, sleep } from "../helpers/net.js";

const INTEROP = "examples/interop/protos/test.proto";

async function start(t: Tap): Promise<{ server: Server; address: string; health: ReturnType<typeof registerHealth> }> {
  const server = new Server();
  const health = registerHealth(server);
  registerReflection(server);
  const root = loadRoot(INTEROP);
  const stub: Record<string, () => object> = {};
  for (const m of root.lookupService("grpc.testing.TestService").methodsArray) stub[m.name] = () => ({});
  server.register(stub, { service: "grpc.testing.TestService", proto: root });
  const listener = await server.listen("grpc://127.0.0.1:0");
  t.teardown(() => server.close());
  return { server, address: new URL(listener.url).host, health };
}

interface Tap {
  teardown(fn: () => unknown): void;
}

function unary<T>(client: Record<string, Function>, method: string, request: object): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method]!.call(client, request, (err: grpc.ServiceError | null, response: T) => (err ? reject(err) : resolve(response)));
  });
}

t.test("Health.Check and Health.Watch from grpc-js", async (t) => {
  const { address, health } = await start(t);
  const client = grpcJsClient(t, healthRoot(), "grpc.health.v1.Health", address);

  t.same(await bounded(unary(client, "Check", { service: "" }), 10_000, "Check"), { status: "SERVING" }, "the server is SERVING");
  const missing = await bounded(unary(client, "Check", { service: "grpc.testing.Nope" }).then(() => undefined, (err: grpc.ServiceError) => err), 10_000, "Check unknown");
  t.equal(missing?.code, 5, "an unknown service: NOT_FOUND over the wire");
  health.setStatus("grpc.testing.TestService", "NOT_SERVING");
  t.same(await bounded(unary(client, "Check", { service: "grpc.testing.TestService" }), 10_000, "Check set"), { status: "NOT_SERVING" });

  const watch = client.Watch!.call(client, { service: "svc" }) as grpc.ClientReadableStream<{ status: string }>;
  const ended = streamError(watch);
  t.same(await bounded(takeMessages(watch, 1), 10_000, "first status"), [{ status: "SERVICE_UNKNOWN" }], "Watch: the current status at once");
  health.setStatus("svc", "SERVING");
  t.same(await bounded(takeMessages(watch, 1), 10_000, "second status"), [{ status: "SERVING" }], "Watch: the change");
  health.setStatus("svc", "NOT_SERVING");
  t.same(await bounded(takeMessages(watch, 1), 10_000, "third status"), [{ status: "NOT_SERVING" }]);
  watch.cancel();
  t.equal((await bounded(ended, 10_000, "cancel")).code, 1, "the client's cancel ends the watch (CANCELLED)");
  // The server learns of the cancel from the peer's RST_STREAM; wait (bounded) for the listener to go.
  for (let i = 0; i < 200 && health.watchers("svc") > 0; i++) await sleep(10);
  t.equal(health.watchers("svc"), 0, "the server-side watch ended and left no listener");
});

t.test("reflection v1 and v1alpha over one bidi stream each", async (t) => {
  const { address } = await start(t);
  for (const version of ["v1", "v1alpha"] as const) {
    const service = `grpc.reflection.${version}.ServerReflection`;
    const client = grpcJsClient(t, reflectionRoot(version), service, address);
    const stream = client.ServerReflectionInfo!.call(client) as grpc.ClientDuplexStream<object, Record<string, any>>;
    const next = (): Promise<Record<string, any>> => bounded(takeMessages(stream, 1).then(([m]) => m!), 10_000, `${version} response`);

    stream.write({ host: "localhost", list_services: "*" });
    const listed = await next();
    t.equal(listed.valid_host, "localhost", `${version}: valid_host echoed`);
    t.same(listed.original_request.list_services, "*", `${version}: original_request echoed`);
    t.same(listed.list_services_response.service.map((s: { name: string }) => s.name), [
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "grpc.testing.TestService",
    ], `${version}: every registered service`);

    stream.write({ file_containing_symbol: "grpc.testing.DoesNotExist" });
    const missing = await next();
    t.equal(missing.message_response, "error_response", `${version}: an unknown symbol is an error_response`);
    t.equal(missing.error_response.error_code, 5, `${version}: NOT_FOUND`);

    stream.write({ file_containing_symbol: "grpc.testing.TestService" });
    const found = await next();
    t.equal(found.message_response, "file_descriptor_response", `${version}: the stream goes on after an error`);
    const bytes: Uint8Array[] = found.file_descriptor_response.file_descriptor_proto;
    t.same(decodeFiles(bytes).map((f) => f.name).sort(), ["examples/interop/protos/empty.proto", "examples/interop/protos/messages.proto", INTEROP].sort(), `${version}: the file and its imports`);
    const rebuilt = rootFromFiles(bytes);
    const unaryCall = rebuilt.lookupService("grpc.testing.TestService").methods.UnaryCall!;
    unaryCall.resolve();
    t.equal(unaryCall.resolvedRequestType!.fields.response_status!.id, 7, `${version}: the rebuilt Root resolves SimpleRequest`);

    stream.end();
    await bounded(new Promise<void>((resolve, reject) => {
      stream.once("end", () => resolve());
      stream.once("error", reject);
      stream.resume();
    }), 10_000, `${version} end`);
    t.pass(`${version}: the server ends its side when the client does`);
  }
});
