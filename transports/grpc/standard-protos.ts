// The .proto sources of gRPC's standard services (health checking, server reflection) and their parsed Roots.
//
// The wire contract (packages, services, rpcs, messages, field names and numbers) is gRPC's
// public one, so grpc_health_probe, grpcurl, Postman and every gRPC library's health and
// reflection clients understand our servers. The comments are ours.
import type { Namespace, ReflectionObject, Root } from "protobufjs";
import { parseProto } from "../../codecs/protobuf/index.js";

/** File name reflection reports for the health proto (the name every gRPC library uses). */
export const HEALTH_PROTO_FILE = "grpc/health/v1/health.proto";
export const REFLECTION_V1_PROTO_FILE = "grpc/reflection/v1/reflection.proto";
export const REFLECTION_V1ALPHA_PROTO_FILE = "grpc/reflection/v1alpha/reflection.proto";

/** grpc.health.v1: is the server (service "") or one named service ready for calls? */
export const HEALTH_PROTO = `syntax = "proto3";

package grpc.health.v1;

message HealthCheckRequest {
  // A service's full name, or "" for the server as a whole.
  string service = 1;
}

message HealthCheckResponse {
  enum ServingStatus {
    UNKNOWN = 0;
    SERVING = 1;
    NOT_SERVING = 2;
    // Only Watch reports this: the service is not known (yet).
    SERVICE_UNKNOWN = 3;
  }
  ServingStatus status = 1;
}

message HealthListRequest {}

message HealthListResponse {
  // Every service with a status, by name.
  map<string, HealthCheckResponse> statuses = 1;
}

service Health {
  // The current status; NOT_FOUND for a service the server does not know.
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);

  // A snapshot of every known service's status.
  rpc List(HealthListRequest) returns (HealthListResponse);

  // The current status at once, then every change until the caller hangs up.
  rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse);
}
`;

/** The reflection protocol's messages, the same in v1 and v1alpha apart from the package. */
function reflectionProto(pkg: string): string {
  return `syntax = "proto3";

package ${pkg};

service ServerReflection {
  // One stream, many questions: each request gets one response, in order.
  rpc ServerReflectionInfo(stream ServerReflectionRequest) returns (stream ServerReflectionResponse);
}

message ServerReflectionRequest {
  string host = 1;
  // Exactly one question per request.
  oneof message_request {
    // A file by the name reflection gave it.
    string file_by_filename = 3;
    // The file declaring a fully-qualified symbol: pkg.Service, pkg.Service.Method, pkg.Message, ...
    string file_containing_symbol = 4;
    // The file declaring one extension of a message type.
    ExtensionRequest file_containing_extension = 5;
    // The field numbers of every known extension of a message type (fully-qualified name).
    string all_extension_numbers_of_type = 6;
    // Every service the server serves; the value itself is not looked at.
    string list_services = 7;
  }
}

message ExtensionRequest {
  string containing_type = 1;
  int32 extension_number = 2;
}

message ServerReflectionResponse {
  string valid_host = 1;
  ServerReflectionRequest original_request = 2;
  oneof message_response {
    // For the three file questions: the file and everything it depends on.
    FileDescriptorResponse file_descriptor_response = 4;
    ExtensionNumberResponse all_extension_numbers_response = 5;
    ListServiceResponse list_services_response = 6;
    ErrorResponse error_response = 7;
  }
}

message FileDescriptorResponse {
  // Each one a serialized google.protobuf.FileDescriptorProto, kept opaque so this file
  // needs no import of descriptor.proto.
  repeated bytes file_descriptor_proto = 1;
}

message ExtensionNumberResponse {
  string base_type_name = 1;
  repeated int32 extension_number = 2;
}

message ListServiceResponse {
  repeated ServiceResponse service = 1;
}

message ServiceResponse {
  // A service's fully-qualified name.
  string name = 1;
}

message ErrorResponse {
  // A gRPC status code number.
  int32 error_code = 1;
  string error_message = 2;
}
`;
}

/** grpc.reflection.v1: what grpcurl and current gRPC tools ask first. */
export const REFLECTION_V1_PROTO = reflectionProto("grpc.reflection.v1");
/** grpc.reflection.v1alpha: the older package, still the only one some clients speak. */
export const REFLECTION_V1ALPHA_PROTO = reflectionProto("grpc.reflection.v1alpha");

let health: Root | undefined;
const reflection = new Map<"v1" | "v1alpha", Root>();

/** The parsed, resolved grpc.health.v1 Root (one shared instance). */
export function healthRoot(): Root {
  return (health ??= named(parseProto(HEALTH_PROTO), HEALTH_PROTO_FILE));
}

/** The parsed, resolved grpc.reflection.v1 or v1alpha Root (one shared instance per version). */
export function reflectionRoot(version: "v1" | "v1alpha" = "v1"): Root {
  let root = reflection.get(version);
  if (!root) {
    root = version === "v1"
      ? named(parseProto(REFLECTION_V1_PROTO), REFLECTION_V1_PROTO_FILE)
      : named(parseProto(REFLECTION_V1ALPHA_PROTO), REFLECTION_V1ALPHA_PROTO_FILE);
    reflection.set(version, root);
  }
  return root;
}

/**
 * Parsing from a string leaves every object without a file name; reflection groups types into
 * files by that name, so give them the name these protos have everywhere else.
 */
function named(root: Root, file: string): Root {
  const visit = (obj: ReflectionObject): void => {
    obj.filename ??= file;
    const nested = (obj as Namespace).nestedArray;
    if (Array.isArray(nested)) for (const child of nested) visit(child);
  };
  for (const child of root.nestedArray) visit(child);
  root.files.push(file);
  return root;
}
