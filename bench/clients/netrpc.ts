// Row 3's client: our dial() over tcp with the default (Go jsonrpc) codec.
import { dial } from "../../index.js";
import { EXPECTED, METHOD, PARAMS } from "../user.js";
import { expectEqual, type BenchClient } from "./client.js";

export async function connect(port: number): Promise<BenchClient> {
  const client = await dial(`tcp://127.0.0.1:${port}`);
  return {
    call: () => client.call(METHOD, PARAMS),
    verify: (result) => expectEqual(result, EXPECTED),
    close: () => client.close(),
  };
}
