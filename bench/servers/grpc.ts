// Row 6: a @grpc/grpc-js server for user.User/GetUser.
import * as grpc from "@grpc/grpc-js";
import { userService, type GetUserReq, type GetUserResp } from "../grpc-service.js";
import { getUser } from "../user.js";
import { ready } from "./ready.js";

const server = new grpc.Server();
server.addService(userService, {
  GetUser(call: grpc.ServerUnaryCall<GetUserReq, GetUserResp>, callback: grpc.sendUnaryData<GetUserResp>) {
    const user = getUser(call.request.id);
    if (!user) callback({ code: grpc.status.NOT_FOUND, details: "user not found" });
    else callback(null, { id: user.Id, name: user.Name, phone: user.Phone });
  },
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  ready(port);
});
