// user.proto as a hand-made grpc-js service definition, (de)serialized with protobufjs: grpc without codegen.
import protobuf from "protobufjs";
import type { ServiceDefinition } from "@grpc/grpc-js";

const PROTO = `
syntax = "proto3";
package user;
service User { rpc GetUser(GetUserReq) returns (GetUserResp); }
message GetUserReq { string id = 1; }
message GetUserResp { string id = 1; string name = 2; string phone = 3; }
`;

export interface GetUserReq {
  id: string;
}
export interface GetUserResp {
  id: string;
  name: string;
  phone: string;
}

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const Req = root.lookupType("user.GetUserReq");
const Resp = root.lookupType("user.GetUserResp");

// What @grpc/proto-loader generates: encode(fromObject(o)) and toObject(decode(b)).
const serialize = (type: protobuf.Type) => (value: object) => Buffer.from(type.encode(type.fromObject(value)).finish());
const deserialize =
  <T>(type: protobuf.Type) =>
  (bytes: Buffer) =>
    type.toObject(type.decode(bytes), { defaults: true }) as T;

export const userService = {
  GetUser: {
    path: "/user.User/GetUser",
    requestStream: false,
    responseStream: false,
    requestSerialize: serialize(Req),
    requestDeserialize: deserialize<GetUserReq>(Req),
    responseSerialize: serialize(Resp),
    responseDeserialize: deserialize<GetUserResp>(Resp),
    originalName: "getUser",
  },
} satisfies ServiceDefinition;
