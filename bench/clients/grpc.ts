// Row 6's client: one grpc-js channel (one HTTP/2 connection), unary calls via makeUnaryRequest.
import * as grpc from "@grpc/grpc-js";
import { userService, type GetUserReq, type GetUserResp } from "../grpc-service.js";
import { EXPECTED, PARAMS } from "../user.js";
import { expectEqual, type BenchClient } from "./client.js";

export async function connect(port: number): Promise<BenchClient> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  await new Promise<void>((resolve, reject) =>
    client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())),
  );
  const m = userService.GetUser;
  const req: GetUserReq = { id: PARAMS.id };
  return {
    call: () =>
      new Promise((resolve, reject) => {
        client.makeUnaryRequest<GetUserReq, GetUserResp>(m.path, m.requestSerialize, m.responseDeserialize, req, (err, resp) =>
          err ? reject(err) : resolve(resp),
        );
      }),
    verify: (result) => {
      const r = result as GetUserResp;
      expectEqual({ Id: r.id, Name: r.name, Phone: r.phone }, EXPECTED);
    },
    close: () => client.close(),
  };
}
