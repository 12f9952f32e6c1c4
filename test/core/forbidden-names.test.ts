// Wire names that must never reach anything but a registered method: Object.prototype members,
// constructor, __proto__, _private. Checked with our client and with raw JSON lines over TCP; the
// registered object's prototype chain is instrumented to prove nothing forbidden ever ran.
import t from "tap";
import { dial, RpcError, Code } from "../../index.js";
import type { CallContext } from "../../index.js";
import { LineSocket, rejection, startServer } from "../helpers/net.js";

/** Calls of forbidden functions made with the spy as `this`. */
const invoked: string[] = [];
let constructions = 0;

class SpyBase {
  constructor() {
    constructions++;
  }
  _baseHidden(): string {
    invoked.push("_baseHidden");
    return "base hidden";
  }
  Inherited(): string {
    return "inherited";
  }
}

class Svc extends SpyBase {
  Ping(): string {
    return "pong";
  }
  _private(): string {
    invoked.push("_private");
    return "private";
  }
  Meta(_params: unknown, ctx: CallContext): unknown {
    const md = ctx.metadata;
    return {
      keys: Object.keys(md).sort(),
      protoOwn: Object.prototype.hasOwnProperty.call(md, "__proto__"),
      proto: (md as Record<string, unknown>)["__proto__"] ?? null,
    };
  }
  Params(params: Record<string, unknown>): unknown {
    return { own: Object.keys(params), protoIsObjectProto: Object.getPrototypeOf(params) === Object.prototype };
  }
}

const spy = new Svc();

// Instrument Object.prototype, which is on the spy's chain: each method records a call made on
// the spy, then behaves as before. Restored when the file ends.
const originals = new Map<string, PropertyDescriptor>();
for (const name of Object.getOwnPropertyNames(Object.prototype)) {
  const desc = Object.getOwnPropertyDescriptor(Object.prototype, name)!;
  if (name === "constructor") continue; // Object itself; SpyBase counts constructions instead
  originals.set(name, desc);
  if (typeof desc.value === "function") {
    const orig = desc.value as (...a: unknown[]) => unknown;
    Object.defineProperty(Object.prototype, name, {
      ...desc,
      value: function (this: unknown, ...args: unknown[]) {
        if (this === spy) invoked.push(name);
        return orig.apply(this, args);
      },
    });
  } else if (desc.get || desc.set) {
    const { get, set } = desc;
    Object.defineProperty(Object.prototype, name, {
      ...desc,
      get: get && function (this: unknown) {
        if (this === spy) invoked.push(`get ${name}`);
        return get.call(this);
      },
      set: set && function (this: unknown, v: unknown) {
        if (this === spy) invoked.push(`set ${name}`);
        set.call(this, v);
      },
    });
  }
}
const instrumented = new Map(Object.getOwnPropertyNames(Object.prototype).map((n) => [n, Object.getOwnPropertyDescriptor(Object.prototype, n)]));
t.teardown(() => {
  for (const [name, desc] of originals) Object.defineProperty(Object.prototype, name, desc);
});

const chainBefore = {
  proto: Object.getPrototypeOf(spy),
  own: Reflect.ownKeys(spy),
  svcProto: new Map(Reflect.ownKeys(Svc.prototype).map((k) => [k, Object.getOwnPropertyDescriptor(Svc.prototype, k)])),
  baseProto: new Map(Reflect.ownKeys(SpyBase.prototype).map((k) => [k, Object.getOwnPropertyDescriptor(SpyBase.prototype, k)])),
};

const METHOD_NAMES = [
  ...new Set([
    "constructor",
    "__proto__",
    "toString",
    "hasOwnProperty",
    "valueOf",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "_private",
    "_baseHidden",
    "prototype",
    ...Object.getOwnPropertyNames(Object.prototype),
  ]),
];

const SERVICE_NAMES = [
  "Object.prototype.toString",
  "__proto__.toString",
  "__proto__.__proto__",
  "constructor.name",
  "prototype.Ping",
  "Svc.__proto__.Ping",
  "Svc.constructor.name",
  "Svc.prototype.Ping",
  "hasOwnProperty.call",
  "Object.keys",
];

t.test("one server, one client and one raw connection for every name", async (t) => {
  const { url, port, server } = await startServer(t, { examples: false, services: [spy] });
  t.strictSame(server.methods(), ["Svc.Inherited", "Svc.Meta", "Svc.Params", "Svc.Ping"], "only the public methods are exposed");
  const client = await dial(url);
  t.teardown(() => client.close());
  const raw = await LineSocket.connect(t, port);
  let nextId = 100;

  t.test("the instrumentation sees calls made on the spy", async (t) => {
    t.equal(spy.hasOwnProperty("x"), false);
    t.equal(String(spy), "[object Object]");
    t.equal(Object.getPrototypeOf(spy), Svc.prototype);
    void (spy as unknown as { __proto__: unknown }).__proto__;
    t.strictSame(invoked, ["hasOwnProperty", "toString", "get __proto__"]);
    invoked.length = 0;
  });

  t.test("forbidden method names are not found", async (t) => {
    for (const name of METHOD_NAMES) {
      t.test(name, async (t) => {
        const err = await rejection(client.call(`Svc.${name}`, {}), `Svc.${name}`);
        t.ok(err instanceof RpcError);
        t.equal(err.code, Code.UNIMPLEMENTED);
        t.equal(err.message, `rpc: can't find method Svc.${name}`);
        t.equal(err.fromPeer, true);

        const id = nextId++;
        const line = await raw.exchange(JSON.stringify({ method: `Svc.${name}`, params: [{}], id }));
        t.equal(line, `{"id":${id},"result":null,"error":"rpc: can't find method Svc.${name}","code":12}`);
      });
    }
  });

  t.test("forbidden service names are not found", async (t) => {
    for (const full of SERVICE_NAMES) {
      t.test(full, async (t) => {
        const err = await rejection(client.call(full, {}), full);
        t.equal(err.code, Code.UNIMPLEMENTED);
        t.equal(err.message, `rpc: can't find service ${full}`);

        const id = nextId++;
        const line = await raw.exchange(JSON.stringify({ method: full, params: [{}], id }));
        t.equal(line, `{"id":${id},"result":null,"error":"rpc: can't find service ${full}","code":12}`);
      });
    }
    for (const bare of ["toString", "__proto__", "constructor"]) {
      t.test(`ill-formed ${bare}`, async (t) => {
        const err = await rejection(client.call(bare), bare);
        t.equal(err.code, Code.UNIMPLEMENTED);
        t.equal(err.message, `rpc: service/method request ill-formed: ${bare}`);
      });
    }
  });

  t.test("__proto__ and constructor in metadata and params are plain data", async (t) => {
    const id = nextId++;
    const line = await raw.exchange(
      `{"method":"Svc.Meta","params":[{}],"id":${id},"metadata":{"__proto__":"x","constructor":"y","tostring":"z"}}`,
    );
    t.strictSame(JSON.parse(line), { id, result: { keys: ["__proto__", "constructor", "tostring"], protoOwn: true, proto: "x" }, error: null });

    const id2 = nextId++;
    const line2 = await raw.exchange(`{"method":"Svc.Params","params":[{"__proto__":{"polluted":1},"a":1}],"id":${id2}}`);
    t.strictSame(JSON.parse(line2), { id: id2, result: { own: ["__proto__", "a"], protoIsObjectProto: true }, error: null });
    t.equal((({}) as Record<string, unknown>).polluted, undefined, "Object.prototype not polluted");

    const md = JSON.parse(`{"__proto__":"x"}`) as Record<string, string>;
    const viaClient = (await client.call("Svc.Meta", {}, { metadata: md })) as { keys: string[]; protoOwn: boolean };
    t.strictSame(viaClient.keys, ["__proto__"]);
    t.equal(viaClient.protoOwn, true);
  });

  t.test("after all of them the connections still work and nothing was touched", async (t) => {
    t.equal(await client.call("Svc.Ping"), "pong");
    t.equal(await client.call("Svc.Inherited"), "inherited");
    const id = nextId++;
    t.equal(await raw.exchange(`{"method":"Svc.Ping","params":[null],"id":${id}}`), `{"id":${id},"result":"pong","error":null}`);
    t.equal(raw.isClosed, false);

    t.strictSame(invoked, [], "no forbidden function ran with the service as this");
    t.equal(constructions, 1, "the constructor ran once, at new Svc()");
    t.equal(Object.getPrototypeOf(spy), chainBefore.proto, "prototype unchanged");
    t.strictSame(Reflect.ownKeys(spy), chainBefore.own, "no own properties added");
    for (const [proto, before] of [
      [Svc.prototype, chainBefore.svcProto],
      [SpyBase.prototype, chainBefore.baseProto],
    ] as const) {
      t.strictSame(Reflect.ownKeys(proto), [...before.keys()]);
      for (const [k, d] of before) t.equal(Object.getOwnPropertyDescriptor(proto, k)?.value, d?.value, String(k));
    }
    for (const [name, desc] of instrumented) {
      const now = Object.getOwnPropertyDescriptor(Object.prototype, name);
      t.equal(now?.value, desc?.value, `Object.prototype.${name} unchanged`);
      t.equal(now?.get, desc?.get, `Object.prototype.${name} getter unchanged`);
    }
    t.strictSame(Object.getOwnPropertyNames(Object.prototype), [...instrumented.keys()], "no member added to Object.prototype");
  });
});
