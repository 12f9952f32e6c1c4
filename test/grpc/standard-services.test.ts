// The interop protos, the health service and server reflection, called directly (no network):
// field numbers and streaming kinds of the interop contract, health's Check/List/Watch
// semantics, and reflection's FileDescriptorProtos decoded and rebuilt into a Root.
import t, { type Test } from "tap";
import { writeFileSync } from "node:fs";
import path from "node:path";
import protobuf from "protobufjs";
import type { Type } from "protobufjs";
import { Server } from "../../core/server.js";
import { RpcError } from "../../core/errors.js";
import { Code } from "../../core/codes.js";
import { loadRoot, parseProto } from "../../codecs/protobuf/index.js";
import { HealthService, registerHealth, type HealthCheckResponse } from "../../transports/grpc/health.js";
import { ReflectionService, registerReflection, describeRoots, type ServerReflectionRequest, type ServerReflectionResponse } from "../../transports/grpc/reflection.js";
import { HEALTH_PROTO_FILE, REFLECTION_V1ALPHA_PROTO_FILE, REFLECTION_V1_PROTO_FILE, healthRoot, reflectionRoot } from "../../transports/grpc/standard-protos.js";
import { RequestStream, decodeFiles, handContext, rootFromFiles, type FileProto } from "../helpers/grpc-standard.js";
import { bounded } from "../helpers/net.js";

const INTEROP = "examples/interop/protos/test.proto";

/** Field name -> [number, type as protobufjs names it, rule]. */
function fieldsOf(type: Type): Record<string, [number, string, string]> {
  const out: Record<string, [number, string, string]> = {};
  for (const f of type.fieldsArray) out[f.name] = [f.id, f.resolvedType ? f.resolvedType.fullName.slice(1) : f.type, f.repeated ? "repeated" : "single"];
  return out;
}

/** An object serving every rpc of a proto service (the bodies do not matter here). */
function stubFor(service: protobuf.Service): Record<string, () => object> {
  const stub: Record<string, () => object> = {};
  for (const m of service.methodsArray) stub[m.name] = () => ({});
  return stub;
}

t.test("the interop protos: grpc.testing's services, kinds and field numbers", async (t) => {
  const root = loadRoot(INTEROP);
  t.same([...root.files].map((f) => path.basename(f)).sort(), ["empty.proto", "messages.proto", "test.proto"], "test.proto pulls in its two imports by relative path");

  const kinds = Object.fromEntries(root.lookupService("grpc.testing.TestService").methodsArray.map((m) => [
    m.name,
    `${m.requestStream ? "stream " : ""}${m.resolvedRequestType!.name} -> ${m.responseStream ? "stream " : ""}${m.resolvedResponseType!.name}`,
  ]));
  t.same(kinds, {
    EmptyCall: "Empty -> Empty",
    UnaryCall: "SimpleRequest -> SimpleResponse",
    CacheableUnaryCall: "SimpleRequest -> SimpleResponse",
    StreamingOutputCall: "StreamingOutputCallRequest -> stream StreamingOutputCallResponse",
    StreamingInputCall: "stream StreamingInputCallRequest -> StreamingInputCallResponse",
    FullDuplexCall: "stream StreamingOutputCallRequest -> stream StreamingOutputCallResponse",
    HalfDuplexCall: "stream StreamingOutputCallRequest -> stream StreamingOutputCallResponse",
    UnimplementedCall: "Empty -> Empty",
  }, "TestService: every rpc with its streaming kind and types");
  t.same(root.lookupService("grpc.testing.UnimplementedService").methodsArray.map((m) => m.name), ["UnimplementedCall"]);
  for (const s of ["ReconnectService", "LoadBalancerStatsService", "HookService", "XdsUpdateHealthService", "XdsUpdateClientConfigureService"]) {
    t.ok(root.lookupService(`grpc.testing.${s}`).methodsArray.length > 0, `grpc.testing.${s} is declared`);
  }

  t.same(fieldsOf(root.lookupType("grpc.testing.SimpleRequest")), {
    response_type: [1, "grpc.testing.PayloadType", "single"],
    response_size: [2, "int32", "single"],
    payload: [3, "grpc.testing.Payload", "single"],
    fill_username: [4, "bool", "single"],
    fill_oauth_scope: [5, "bool", "single"],
    response_compressed: [6, "grpc.testing.BoolValue", "single"],
    response_status: [7, "grpc.testing.EchoStatus", "single"],
    expect_compressed: [8, "grpc.testing.BoolValue", "single"],
    fill_server_id: [9, "bool", "single"],
    fill_grpclb_route_type: [10, "bool", "single"],
    orca_per_query_report: [11, "grpc.testing.TestOrcaReport", "single"],
  });
  t.same(fieldsOf(root.lookupType("grpc.testing.StreamingOutputCallRequest")), {
    response_type: [1, "grpc.testing.PayloadType", "single"],
    response_parameters: [2, "grpc.testing.ResponseParameters", "repeated"],
    payload: [3, "grpc.testing.Payload", "single"],
    response_status: [7, "grpc.testing.EchoStatus", "single"],
    orca_oob_report: [8, "grpc.testing.TestOrcaReport", "single"],
  });
  t.same(fieldsOf(root.lookupType("grpc.testing.Payload")), { type: [1, "grpc.testing.PayloadType", "single"], body: [2, "bytes", "single"] });
  t.same(fieldsOf(root.lookupType("grpc.testing.EchoStatus")), { code: [1, "int32", "single"], message: [2, "string", "single"] });
  t.same(fieldsOf(root.lookupType("grpc.testing.ResponseParameters")), {
    size: [1, "int32", "single"],
    interval_us: [2, "int32", "single"],
    compressed: [3, "grpc.testing.BoolValue", "single"],
    fill_peer_socket_address: [4, "grpc.testing.BoolValue", "single"],
  });
  t.same(fieldsOf(root.lookupType("grpc.testing.StreamingOutputCallResponse")), { payload: [1, "grpc.testing.Payload", "single"], peer_socket_address: [2, "string", "single"] });
  t.same(fieldsOf(root.lookupType("grpc.testing.StreamingInputCallResponse")), { aggregated_payload_size: [1, "int32", "single"] });
  t.same(root.lookupEnum("grpc.testing.PayloadType").values, { COMPRESSABLE: 0 });
  t.same(root.lookupEnum("grpc.testing.GrpclbRouteType").values, { GRPCLB_ROUTE_TYPE_UNKNOWN: 0, GRPCLB_ROUTE_TYPE_FALLBACK: 1, GRPCLB_ROUTE_TYPE_BACKEND: 2 });
  t.same(root.lookupType("grpc.testing.Empty").fieldsArray, [], "Empty has no fields");

  // The bytes themselves: size 1 is field 2 (varint), the payload field 3 holding body (field 2).
  const bytes = root.lookupType("grpc.testing.SimpleRequest").encode({ response_size: 1, payload: { body: Buffer.from([7, 8]) } }).finish();
  t.same([...bytes], [0x10, 0x01, 0x1a, 0x04, 0x12, 0x02, 0x07, 0x08], "SimpleRequest encodes with the public field numbers");
});

t.test("the standard protos: health and both reflection versions", async (t) => {
  t.equal(healthRoot(), healthRoot(), "the parsed health Root is cached");
  t.equal(reflectionRoot("v1alpha"), reflectionRoot("v1alpha"), "the parsed reflection Root is cached per version");
  t.not(reflectionRoot("v1"), reflectionRoot("v1alpha"));

  const health = healthRoot();
  t.same(fieldsOf(health.lookupType("grpc.health.v1.HealthCheckRequest")), { service: [1, "string", "single"] });
  t.same(fieldsOf(health.lookupType("grpc.health.v1.HealthCheckResponse")), { status: [1, "grpc.health.v1.HealthCheckResponse.ServingStatus", "single"] });
  t.same(health.lookupEnum("grpc.health.v1.HealthCheckResponse.ServingStatus").values, { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 });
  const rpcs = health.lookupService("grpc.health.v1.Health").methodsArray.map((m) => `${m.name}${m.responseStream ? " stream" : ""}`);
  t.same(rpcs, ["Check", "List", "Watch stream"]);

  for (const version of ["v1", "v1alpha"] as const) {
    const root = reflectionRoot(version);
    const pkg = `grpc.reflection.${version}`;
    const info = root.lookupService(`${pkg}.ServerReflection`).methods.ServerReflectionInfo!;
    t.ok(info.requestStream && info.responseStream, `${version}: ServerReflectionInfo is bidi`);
    const request = root.lookupType(`${pkg}.ServerReflectionRequest`);
    t.same(fieldsOf(request), {
      host: [1, "string", "single"],
      file_by_filename: [3, "string", "single"],
      file_containing_symbol: [4, "string", "single"],
      file_containing_extension: [5, `${pkg}.ExtensionRequest`, "single"],
      all_extension_numbers_of_type: [6, "string", "single"],
      list_services: [7, "string", "single"],
    }, `${version}: ServerReflectionRequest`);
    t.same(request.oneofs.message_request!.oneof, ["file_by_filename", "file_containing_symbol", "file_containing_extension", "all_extension_numbers_of_type", "list_services"]);
    const response = root.lookupType(`${pkg}.ServerReflectionResponse`);
    t.same(fieldsOf(response), {
      valid_host: [1, "string", "single"],
      original_request: [2, `${pkg}.ServerReflectionRequest`, "single"],
      file_descriptor_response: [4, `${pkg}.FileDescriptorResponse`, "single"],
      all_extension_numbers_response: [5, `${pkg}.ExtensionNumberResponse`, "single"],
      list_services_response: [6, `${pkg}.ListServiceResponse`, "single"],
      error_response: [7, `${pkg}.ErrorResponse`, "single"],
    }, `${version}: ServerReflectionResponse`);
    t.same(response.oneofs.message_response!.oneof, ["file_descriptor_response", "all_extension_numbers_response", "list_services_response", "error_response"]);
    t.same(fieldsOf(root.lookupType(`${pkg}.ExtensionRequest`)), { containing_type: [1, "string", "single"], extension_number: [2, "int32", "single"] });
    t.same(fieldsOf(root.lookupType(`${pkg}.FileDescriptorResponse`)), { file_descriptor_proto: [1, "bytes", "repeated"] });
    t.same(fieldsOf(root.lookupType(`${pkg}.ExtensionNumberResponse`)), { base_type_name: [1, "string", "single"], extension_number: [2, "int32", "repeated"] });
    t.same(fieldsOf(root.lookupType(`${pkg}.ListServiceResponse`)), { service: [1, `${pkg}.ServiceResponse`, "repeated"] });
    t.same(fieldsOf(root.lookupType(`${pkg}.ServiceResponse`)), { name: [1, "string", "single"] });
    t.same(fieldsOf(root.lookupType(`${pkg}.ErrorResponse`)), { error_code: [1, "int32", "single"], error_message: [2, "string", "single"] });
  }
});

t.test("health: Check, List, setStatus and shutdown", async (t) => {
  const health = new HealthService();
  t.same(health.Check({ service: "" }), { status: "SERVING" }, "the server as a whole is SERVING from the start");
  const unknown = (() => {
    try {
      health.Check({ service: "grpc.testing.TestService" });
    } catch (err) {
      return err;
    }
    return undefined;
  })();
  t.ok(unknown instanceof RpcError && unknown.code === Code.NOT_FOUND, "an unknown service is NOT_FOUND");
  t.match((unknown as Error).message, /grpc\.testing\.TestService/, "the error names the service");

  health.setStatus("grpc.testing.TestService", "NOT_SERVING");
  t.same(health.Check({ service: "grpc.testing.TestService" }), { status: "NOT_SERVING" });
  health.setStatus("grpc.testing.TestService", "SERVING");
  t.same(health.List(), { statuses: { "": { status: "SERVING" }, "grpc.testing.TestService": { status: "SERVING" } } });
  t.throws(() => health.setStatus("x", "HEALTHY" as never), TypeError, "a status the proto does not define is refused");

  health.shutdown();
  t.same(health.List(), { statuses: { "": { status: "NOT_SERVING" }, "grpc.testing.TestService": { status: "NOT_SERVING" } } }, "shutdown: every service NOT_SERVING");
  health.setStatus("", "SERVING");
  t.same(health.Check({ service: "" }), { status: "NOT_SERVING" }, "setStatus after shutdown is ignored");
  health.resume();
  t.same(health.Check({ service: "" }), { status: "SERVING" }, "resume() serves again");

  health.clearStatus("grpc.testing.TestService");
  t.throws(() => health.Check({ service: "grpc.testing.TestService" }), { code: Code.NOT_FOUND }, "a cleared service is unknown again");

  const server = new Server();
  const registered = registerHealth(server);
  t.ok(registered instanceof HealthService, "registerHealth returns the service it registered");
  t.same(server.methods().filter((m) => m.startsWith("grpc.health.v1.")), ["grpc.health.v1.Health.Check", "grpc.health.v1.Health.List", "grpc.health.v1.Health.Watch"]);
  const mine = new HealthService();
  t.equal(registerHealth(new Server(), mine), mine, "registerHealth serves the HealthService it is given");
});

t.test("health: Watch sends the current status, then each change, until the call ends", async (t) => {
  const health = new HealthService();
  const ctx = handContext("grpc.health.v1.Health.Watch");
  const watch = health.Watch({ service: "svc" }, ctx);
  const next = (what: string): Promise<IteratorResult<HealthCheckResponse>> => bounded(watch.next(), 5_000, what);

  t.same(await next("first"), { value: { status: "SERVICE_UNKNOWN" }, done: false }, "an unknown service: SERVICE_UNKNOWN, not an error");
  t.equal(health.watchers("svc"), 1);
  const waiting = next("after SERVING");
  health.setStatus("svc", "SERVING");
  t.same(await waiting, { value: { status: "SERVING" }, done: false }, "a change wakes the watcher");

  // A watcher that is not reading gets the newest status, not the steps in between.
  health.setStatus("svc", "NOT_SERVING");
  health.setStatus("svc", "UNKNOWN");
  t.same(await next("coalesced"), { value: { status: "UNKNOWN" }, done: false });
  // Back and forth to the status last sent: nothing new to say.
  health.setStatus("svc", "SERVING");
  health.setStatus("svc", "UNKNOWN");
  const afterFlap = next("after the flap");
  health.setStatus("svc", "NOT_SERVING");
  t.same(await afterFlap, { value: { status: "NOT_SERVING" }, done: false }, "a flap back to the last sent status is not sent");

  const ending = next("end");
  ctx.cancel();
  t.same(await ending, { value: undefined, done: true }, "the stream ends when the call's signal aborts");
  t.equal(health.watchers("svc"), 0, "the watcher's listener is gone");
});

t.test("health: Watch on a known service, shutdown and a caller that stops reading", async (t) => {
  const health = new HealthService();
  const ctx = handContext("grpc.health.v1.Health.Watch");
  const watch = health.Watch({ service: "" }, ctx);
  t.same((await bounded(watch.next(), 5_000, "first")).value, { status: "SERVING" }, "the current status at once");
  const waiting = bounded(watch.next(), 5_000, "shutdown");
  health.shutdown();
  t.same((await waiting).value, { status: "NOT_SERVING" }, "shutdown is a change watchers see");
  await watch.return();
  t.equal(health.watchers(""), 0, "return() from the caller removes the listener");
  t.equal(ctx.aborted, false, "and it did not need the signal");

  const late = handContext("grpc.health.v1.Health.Watch");
  late.cancel();
  const ended = health.Watch({ service: "" }, late);
  t.same(await bounded(ended.next(), 5_000, "cancelled before start"), { value: undefined, done: true }, "a call already cancelled sends nothing");
  t.equal(health.watchers(""), 0);
});

/** A server with health, reflection and TestService, and a reflection service over it. */
function reflectedServer(): { server: Server; reflection: ReflectionService } {
  const server = new Server();
  registerHealth(server);
  registerReflection(server);
  const root = loadRoot(INTEROP);
  server.register(stubFor(root.lookupService("grpc.testing.TestService")), { service: "grpc.testing.TestService", proto: root });
  return { server, reflection: new ReflectionService(server) };
}

function filesOf(response: ServerReflectionResponse): Uint8Array[] {
  if (!response.file_descriptor_response) throw new Error(`expected files, got ${JSON.stringify(response.error_response ?? response)}`);
  return response.file_descriptor_response.file_descriptor_proto;
}

/** Every dependency of every file is in the set, and the first file declares what was asked for. */
function checkClosure(t: Test, files: FileProto[], what: string): void {
  const names = new Set(files.map((f) => f.name));
  t.equal(names.size, files.length, `${what}: no file twice`);
  for (const f of files) for (const dep of f.dependency ?? []) t.ok(names.has(dep), `${what}: ${f.name}'s dependency ${dep} is in the answer`);
}

t.test("reflection: list_services names every registered proto service", async (t) => {
  const { server, reflection } = reflectedServer();
  const answer = reflection.answer({ host: "localhost:50051", list_services: "*", message_request: "list_services" });
  t.same(answer, {
    valid_host: "localhost:50051",
    original_request: { host: "localhost:50051", list_services: "*" },
    list_services_response: {
      service: [
        { name: "grpc.health.v1.Health" },
        { name: "grpc.reflection.v1.ServerReflection" },
        { name: "grpc.reflection.v1alpha.ServerReflection" },
        { name: "grpc.testing.TestService" },
      ],
    },
  }, "services the protos declare but nobody registered (UnimplementedService) are not listed");

  const root = loadRoot(INTEROP);
  server.register(stubFor(root.lookupService("grpc.testing.ReconnectService")), { service: "grpc.testing.ReconnectService", proto: root });
  t.ok(reflection.answer({ list_services: "" }).list_services_response!.service.some((s) => s.name === "grpc.testing.ReconnectService"), "a service registered later is listed");
});

t.test("reflection: file_containing_symbol returns the file and its dependencies, enough to rebuild every type", async (t) => {
  const { reflection } = reflectedServer();
  const answer = reflection.answer({ file_containing_symbol: "grpc.testing.TestService", message_request: "file_containing_symbol" });
  t.same(answer.original_request, { host: "", file_containing_symbol: "grpc.testing.TestService" }, "the request is echoed");
  const bytes = filesOf(answer);
  const files = decodeFiles(bytes);
  t.equal(files[0]!.name, INTEROP, "the file declaring the symbol comes first, named as it was loaded");
  t.same(files.map((f) => f.name).sort(), ["examples/interop/protos/empty.proto", "examples/interop/protos/messages.proto", INTEROP].sort());
  t.same(files[0]!.dependency, ["examples/interop/protos/empty.proto", "examples/interop/protos/messages.proto"]);
  t.ok(files.every((f) => f.package === "grpc.testing" && f.syntax === "proto3"), "package and syntax on every file");
  checkClosure(t, files, "TestService");

  const methods = files[0]!.service!.find((s) => s.name === "TestService")!.method!;
  const full = methods.find((m) => m.name === "FullDuplexCall")!;
  t.same([full.inputType, full.outputType, full.clientStreaming, full.serverStreaming], [".grpc.testing.StreamingOutputCallRequest", ".grpc.testing.StreamingOutputCallResponse", true, true], "fully-qualified types, streaming flags");

  const rebuilt = rootFromFiles(bytes);
  const service = rebuilt.lookupService("grpc.testing.TestService");
  const original = loadRoot(INTEROP);
  for (const m of original.lookupService("grpc.testing.TestService").methodsArray) {
    const again = service.methods[m.name]!;
    t.ok(again, `${m.name} survives the round trip`);
    again.resolve();
    t.same([again.requestStream ?? false, again.responseStream ?? false], [m.requestStream ?? false, m.responseStream ?? false], `${m.name}: streaming kind`);
    t.same(fieldsOf(again.resolvedRequestType!), fieldsOf(m.resolvedRequestType!), `${m.name}: request fields`);
    t.same(fieldsOf(again.resolvedResponseType!), fieldsOf(m.resolvedResponseType!), `${m.name}: response fields`);
  }
  rebuilt.resolveAll();
  t.pass("every type in the returned files resolves");

  // Maps: a repeated field of a nested entry message marked map_entry, named as protoc names it.
  const messages = files.find((f) => f.name.endsWith("messages.proto"))!;
  const stats = messages.messageType!.find((m) => m.name === "LoadBalancerStatsResponse")!;
  const byMethod = stats.field!.find((f) => f.name === "rpcs_by_method")!;
  t.same([byMethod.number, byMethod.label, byMethod.typeName], [3, 3, ".grpc.testing.LoadBalancerStatsResponse.RpcsByMethodEntry"]);
  t.same(stats.nestedType!.find((n) => n.name === "RpcsByMethodEntry")?.options, { mapEntry: true });
});

t.test("reflection: every kind of symbol, file_by_filename and unknown names", async (t) => {
  const { reflection } = reflectedServer();
  const fileFor = (symbol: string): string | undefined => {
    const answer = reflection.answer({ file_containing_symbol: symbol });
    return answer.file_descriptor_response ? decodeFiles(answer.file_descriptor_response.file_descriptor_proto)[0]!.name : undefined;
  };
  t.equal(fileFor("grpc.testing.TestService.UnaryCall"), INTEROP, "a method");
  t.equal(fileFor("grpc.testing.SimpleRequest"), "examples/interop/protos/messages.proto", "a message");
  t.equal(fileFor(".grpc.testing.SimpleRequest"), "examples/interop/protos/messages.proto", "a leading dot is fine");
  t.equal(fileFor("grpc.testing.SimpleRequest.response_size"), "examples/interop/protos/messages.proto", "a field");
  t.equal(fileFor("grpc.testing.PayloadType"), "examples/interop/protos/messages.proto", "an enum");
  t.equal(fileFor("grpc.testing.COMPRESSABLE"), "examples/interop/protos/messages.proto", "an enum value, scoped beside its enum");
  t.equal(fileFor("grpc.testing.LoadBalancerStatsResponse.MetadataEntry"), "examples/interop/protos/messages.proto", "a nested message");
  t.equal(fileFor("grpc.testing.Empty"), "examples/interop/protos/empty.proto");
  t.equal(fileFor("grpc.health.v1.Health"), HEALTH_PROTO_FILE, "the health service, under its usual file name");
  t.equal(fileFor("grpc.health.v1.HealthCheckResponse.ServingStatus"), HEALTH_PROTO_FILE);
  t.equal(fileFor("grpc.reflection.v1.ServerReflection"), REFLECTION_V1_PROTO_FILE);
  t.equal(fileFor("grpc.reflection.v1alpha.ServerReflectionRequest"), REFLECTION_V1ALPHA_PROTO_FILE);

  const missing = reflection.answer({ host: "h", file_containing_symbol: "grpc.testing.NoSuchThing" });
  t.same(missing, {
    valid_host: "h",
    original_request: { host: "h", file_containing_symbol: "grpc.testing.NoSuchThing" },
    error_response: { error_code: Code.NOT_FOUND, error_message: "reflection: symbol not found: grpc.testing.NoSuchThing" },
  }, "an unknown symbol: error_response NOT_FOUND naming it");

  const byName = decodeFiles(filesOf(reflection.answer({ file_by_filename: "examples/interop/protos/messages.proto" })));
  t.same(byName.map((f) => f.name), ["examples/interop/protos/messages.proto"], "file_by_filename: a file with no imports comes alone");
  const health = decodeFiles(filesOf(reflection.answer({ file_by_filename: HEALTH_PROTO_FILE })));
  t.equal(health[0]!.package, "grpc.health.v1");
  const healthRebuilt = rootFromFiles(filesOf(reflection.answer({ file_by_filename: HEALTH_PROTO_FILE })));
  t.ok(healthRebuilt.lookupService("grpc.health.v1.Health").methods.Watch!.responseStream, "health's descriptor rebuilds with Watch streaming");
  t.equal(reflection.answer({ file_by_filename: "nope.proto" }).error_response?.error_code, Code.NOT_FOUND, "an unknown file name: NOT_FOUND");

  const reflectionRebuilt = rootFromFiles(filesOf(reflection.answer({ file_containing_symbol: "grpc.reflection.v1.ServerReflection" })));
  const request = reflectionRebuilt.lookupType("grpc.reflection.v1.ServerReflectionRequest");
  t.same(request.oneofs.message_request!.oneof, ["file_by_filename", "file_containing_symbol", "file_containing_extension", "all_extension_numbers_of_type", "list_services"], "reflection's own oneof survives");
  t.same(fieldsOf(request), fieldsOf(reflectionRoot("v1").lookupType("grpc.reflection.v1.ServerReflectionRequest")), "and its field numbers");

  const empty = reflection.answer({ host: "h" });
  t.equal(empty.error_response?.error_code, Code.INVALID_ARGUMENT, "a request that asks nothing: INVALID_ARGUMENT");
  t.equal(reflection.answer({ all_extension_numbers_of_type: "grpc.testing.Nope" }).error_response?.error_code, Code.NOT_FOUND, "extension numbers of an unknown type: NOT_FOUND");
  t.same(reflection.answer({ all_extension_numbers_of_type: "grpc.testing.SimpleRequest" }).all_extension_numbers_response, { base_type_name: "grpc.testing.SimpleRequest", extension_number: [] }, "a message nobody extends: no numbers");
  t.equal(reflection.answer({ file_containing_extension: { containing_type: "grpc.testing.SimpleRequest", extension_number: 100 } }).error_response?.error_code, Code.NOT_FOUND, "an extension nobody declared: NOT_FOUND");
});

t.test("reflection: the stream answers each request in order and goes on after an error", async (t) => {
  const { reflection } = reflectedServer();
  const requests = new RequestStream<ServerReflectionRequest>();
  const ctx = handContext("grpc.reflection.v1.ServerReflection.ServerReflectionInfo");
  const responses = reflection.ServerReflectionInfo(requests, ctx);
  const next = (what: string) => bounded(responses.next(), 5_000, what);

  requests.push({ file_containing_symbol: "grpc.testing.Missing" });
  const first = await next("first");
  t.equal(first.value?.error_response?.error_code, Code.NOT_FOUND, "1: the unknown symbol fails");
  requests.push({ list_services: "*" });
  t.ok((await next("second")).value?.list_services_response?.service.length, "2: the stream still answers");
  requests.push({ file_containing_symbol: "grpc.testing.Empty" });
  requests.push({ file_by_filename: HEALTH_PROTO_FILE });
  t.equal(decodeFiles(filesOf((await next("third")).value!))[0]!.name, "examples/interop/protos/empty.proto", "3: in order");
  t.equal(decodeFiles(filesOf((await next("fourth")).value!))[0]!.name, HEALTH_PROTO_FILE, "4: in order");
  requests.end();
  t.same(await next("end"), { value: undefined, done: true }, "the response stream ends with the requests");

  const cancelled = new RequestStream<ServerReflectionRequest>();
  const cancelCtx = handContext("grpc.reflection.v1.ServerReflection.ServerReflectionInfo");
  const answers = reflection.ServerReflectionInfo(cancelled, cancelCtx);
  cancelled.push({ list_services: "" });
  t.ok((await bounded(answers.next(), 5_000, "before cancel")).value?.list_services_response);
  cancelCtx.cancel();
  cancelled.push({ list_services: "" });
  t.same(await bounded(answers.next(), 5_000, "after cancel"), { value: undefined, done: true }, "a cancelled call answers nothing more");
});

t.test("reflection: extensions, proto2, well-known types, absolute paths and string-parsed roots", async (t) => {
  const dir = t.testdir({
    "base.proto": `syntax = "proto2";
package ext.demo;
import "google/protobuf/timestamp.proto";
message Base {
  required string id = 1;
  optional int32 limit = 2 [default = 10];
  optional google.protobuf.Timestamp at = 3;
  extensions 100 to 199;
}
`,
    "more.proto": `syntax = "proto2";
package ext.demo;
import "base.proto";
extend Base { optional string note = 100; }
message Holder { extend Base { optional int32 count = 150; } }
service Demo { rpc Get(Base) returns (Holder); }
`,
  });
  const root = loadRoot(path.join(dir, "more.proto"));
  const reflection = new ReflectionService({ methods: () => ["ext.demo.Demo.Get"], protoRoots: () => [root] });

  const index = describeRoots([root]);
  t.same([...index.files.keys()].sort(), ["base.proto", "google/protobuf/timestamp.proto", "more.proto"], "absolute paths become relative to their shared directory; well-known types keep protoc's name");
  for (const name of index.files.keys()) t.notOk(name.includes(dir), `no machine path in ${name}`);

  t.same(reflection.answer({ all_extension_numbers_of_type: "ext.demo.Base" }).all_extension_numbers_response, { base_type_name: "ext.demo.Base", extension_number: [100, 150] });
  const note = decodeFiles(filesOf(reflection.answer({ file_containing_extension: { containing_type: "ext.demo.Base", extension_number: 100 } })));
  t.equal(note[0]!.name, "more.proto", "file_containing_extension: the file with the extend");
  t.same(note[0]!.extension!.map((e) => [e.name, e.number, e.extendee]), [["note", 100, ".ext.demo.Base"]]);
  checkClosure(t, note, "extension");
  t.same(note.map((f) => f.name).sort(), ["base.proto", "google/protobuf/timestamp.proto", "more.proto"], "with base.proto and the well-known type it needs");
  t.equal(decodeFiles(filesOf(reflection.answer({ file_containing_symbol: "ext.demo.Holder.count" })))[0]!.name, "more.proto", "a nested extension by name");

  const base = note.find((f) => f.name === "base.proto")!;
  t.equal(base.syntax, "proto2");
  t.same(base.messageType![0]!.field!.map((f) => [f.name, f.label]), [["id", 2], ["limit", 1], ["at", 1]], "proto2 labels: required stays required");
  t.same(base.messageType![0]!.field!.map((f) => f.name), ["id", "limit", "at"], "the extension fields added to Base are not declared as Base's own fields");
  const rebuilt = rootFromFiles(filesOf(reflection.answer({ file_containing_symbol: "ext.demo.Demo" })));
  rebuilt.resolveAll();
  t.equal(rebuilt.lookupType("ext.demo.Base").fields.at!.resolvedType!.fullName, ".google.protobuf.Timestamp", "the well-known type resolves in the rebuilt Root");
  t.same(reflection.answer({ list_services: "" }).list_services_response, { service: [{ name: "ext.demo.Demo" }] });

  // Roots parsed from strings have no file names: one file per package, named after it.
  const parsed = parseProto(`syntax = "proto3"; package str.only; message M { optional int32 a = 1; oneof pick { string b = 2; int32 c = 3; } map<string, M> kids = 4; }`);
  const described = describeRoots([parsed]);
  t.same([...described.files.keys()], ["str.only.proto"]);
  const [file] = decodeFiles([described.files.get("str.only.proto")!.bytes]);
  const m = file!.messageType![0]!;
  t.same(m.oneofDecl!.map((o) => o.name), ["pick", "_a"], "real oneofs before proto3 optional's synthetic one");
  t.same(m.field!.map((f) => [f.name, f.oneofIndex ?? null]), [["a", 1], ["b", 0], ["c", 0], ["kids", null]]);
  t.equal(m.nestedType![0]!.name, "KidsEntry", "the map entry is named as protoc names it");
  t.same(m.field!.map((f) => f.proto3Optional ?? false), [true, false, false, false], "proto3 optional is marked on its field");
  const again = rootFromFiles([described.files.get("str.only.proto")!.bytes]);
  t.same(again.lookupType("str.only.M").oneofs.pick!.oneof, ["b", "c"], "the oneof survives the round trip");
});
