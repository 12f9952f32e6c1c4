// The library's one logging path: NODE_DEBUG=netrpc prints it; nothing is printed otherwise.
import { debuglog } from "node:util";

export const debug = debuglog("netrpc");
