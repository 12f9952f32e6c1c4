// The one call every row measures: UserServer.GetUser({id:"1"}) and its expected reply.
import { fileURLToPath } from "node:url";

export const METHOD = "UserServer.GetUser";
export const PARAMS = { id: "1" } as const;
export const EXPECTED = { Id: "1", Name: "bala", Phone: "13100001111" } as const;

/** The same call on protobuf connections: user.User.GetUser from examples/user/user.proto, lower-case fields. */
export const PROTO_FILE = fileURLToPath(new URL("../examples/user/user.proto", import.meta.url));
export const PROTO_METHOD = "user.User.GetUser";
export const EXPECTED_PROTO = { id: "1", name: "bala", phone: "13100001111" } as const;

/** What the protobuf row's server registers as user.User: a plain object, fields as the .proto names them. */
export const protoUserService = {
  GetUser(req: { id: string }): { id: string; name: string; phone: string } {
    return { id: req.id, name: "bala", phone: "13100001111" };
  },
};

export interface User {
  Id: string;
  Name: string;
  Phone: string;
}

/** The same lookup examples/services.ts does, for the servers that do not use the library. */
const users: ReadonlyMap<string, User> = new Map([
  ["1", { Id: "1", Name: "bala", Phone: "13100001111" }],
  ["2", { Id: "2", Name: "小王", Phone: "13200001111" }],
]);

export function getUser(id: unknown): User | undefined {
  return users.get(String(id));
}

/** A Go jsonrpc request line for call `id`, newline included. */
export function requestLine(id: number): string {
  return `{"method":"${METHOD}","params":[{"id":"${PARAMS.id}"}],"id":${id}}\n`;
}
