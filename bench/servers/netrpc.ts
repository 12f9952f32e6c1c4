// Rows 3 and 4: our Server with the example UserServer on tcp, default (Go jsonrpc) codec.
import { Server } from "../../index.js";
import { UserServer } from "../../examples/services.js";
import { ready } from "./ready.js";

const server = new Server();
server.register(new UserServer());
const listener = await server.listen("tcp://127.0.0.1:0");
if (listener.port === undefined) throw new Error(`listener ${listener.url} has no port`);
ready(listener.port);
