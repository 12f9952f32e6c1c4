// The one call every row measures: UserServer.GetUser({id:"1"}) and its expected reply.
export const METHOD = "UserServer.GetUser";
export const PARAMS = { id: "1" } as const;
export const EXPECTED = { Id: "1", Name: "bala", Phone: "13100001111" } as const;

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
