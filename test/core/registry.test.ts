// Server.register(): service names, which methods are exposed, and the errors for bad registrations.
import t from "tap";
import { Server, RpcError, Code } from "../../index.js";
import { rejection, startServer, connect } from "../helpers/net.js";

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a throw");
}

t.test("register(obj) names the service after the class", async (t) => {
  class Greeter {
    Hello(name: string): string {
      return `hello ${name}`;
    }
  }
  const { url, server } = await startServer(t, { examples: false, services: [new Greeter()] });
  t.strictSame(server.methods(), ["Greeter.Hello"]);
  const c = await connect(t, url);
  t.equal(await c.call("Greeter.Hello", "go"), "hello go");
});

t.test("register(obj, {name}) overrides the class name", async (t) => {
  class Greeter {
    Hello(): string {
      return "hi";
    }
  }
  const { url, server } = await startServer(t, { examples: false, services: [[new Greeter(), { name: "pkg.Hi" }]] });
  t.strictSame(server.methods(), ["pkg.Hi.Hello"]);
  const c = await connect(t, url);
  t.equal(await c.call("pkg.Hi.Hello"), "hi");
  const err = await rejection(c.call("Greeter.Hello"));
  t.equal(err.code, Code.UNIMPLEMENTED);
  t.equal(err.message, "rpc: can't find service Greeter.Hello");
});

t.test("handlers are bound to the registered object", async (t) => {
  class Counter {
    n = 0;
    Add(by: number): number {
      this.n += by;
      return this.n;
    }
  }
  const counter = new Counter();
  const { url } = await startServer(t, { examples: false, services: [counter] });
  const c = await connect(t, url);
  t.equal(await c.call("Counter.Add", 2), 2);
  t.equal(await c.call("Counter.Add", 3), 5);
  t.equal(counter.n, 5);
});

t.test("plain objects need {name}; the error gives a hint", async (t) => {
  const s = new Server();
  const err = thrown(() => s.register({ Hello: () => "hi" }));
  t.match(err.message, /hint/);
  t.match(err.message, /plain object/);
  const nullProto = Object.assign(Object.create(null) as object, { Hello: () => "hi" });
  t.match(thrown(() => s.register(nullProto)).message, /hint/);
  t.strictSame(s.methods(), [], "nothing was registered by the failed calls");

  s.register({ Hello: () => "hi", _hidden: () => "no" }, { name: "Plain" });
  t.strictSame(s.methods(), ["Plain.Hello"]);
  const { url } = await startServer(t, { examples: false, services: [[{ Hello: () => "hi" }, { name: "Plain" }]] });
  const c = await connect(t, url);
  t.equal(await c.call("Plain.Hello"), "hi");
});

t.test("a duplicate service name is refused with Go's text", async (t) => {
  class Dup {
    A(): number {
      return 1;
    }
  }
  const s = new Server();
  s.register(new Dup());
  const err = thrown(() => s.register(new Dup()));
  t.equal(err.message, "rpc: service already defined: Dup");
  const err2 = thrown(() => s.register({ B: () => 2 }, { name: "Dup" }));
  t.equal(err2.message, "rpc: service already defined: Dup");
  t.strictSame(s.methods(), ["Dup.A"], "the first registration is untouched");
});

t.test("a class with no methods is refused", async (t) => {
  class Empty {
    value = 1;
  }
  class OnlyHidden {
    _secret(): number {
      return 1;
    }
    get computed(): number {
      return 2;
    }
    [Symbol.iterator](): Iterator<number> {
      return [][Symbol.iterator]();
    }
  }
  const s = new Server();
  t.match(thrown(() => s.register(new Empty())).message, /no exported methods/);
  t.match(thrown(() => s.register(new OnlyHidden())).message, /no exported methods/);
  t.match(thrown(() => s.register({}, { name: "Nothing" })).message, /no exported methods/);
  t.strictSame(s.methods(), []);
});

t.test("methods inherited from a user base class are exposed, overrides win", async (t) => {
  class Base {
    Ping(): string {
      return "base-ping";
    }
    Who(): string {
      return "base";
    }
  }
  class Mid extends Base {
    Mid(): string {
      return "mid";
    }
  }
  class Leaf extends Mid {
    override Who(): string {
      return "leaf";
    }
  }
  const { url, server } = await startServer(t, { examples: false, services: [new Leaf()] });
  t.strictSame(server.methods(), ["Leaf.Mid", "Leaf.Ping", "Leaf.Who"]);
  const c = await connect(t, url);
  t.equal(await c.call("Leaf.Ping"), "base-ping");
  t.equal(await c.call("Leaf.Mid"), "mid");
  t.equal(await c.call("Leaf.Who"), "leaf");
});

t.test("getters are neither invoked at registration nor callable", async (t) => {
  let reads = 0;
  class WithGetter {
    get boom(): string {
      reads++;
      throw new Error("getter was invoked");
    }
    get fn(): () => string {
      reads++;
      return () => "from getter";
    }
    set writeOnly(_v: unknown) {
      reads++;
    }
    Real(): string {
      return "real";
    }
  }
  const s = new Server();
  t.doesNotThrow(() => s.register(new WithGetter()));
  t.equal(reads, 0, "no accessor ran at registration");
  t.strictSame(s.methods(), ["WithGetter.Real"]);

  const { url } = await startServer(t, { examples: false, services: [new WithGetter()] });
  const c = await connect(t, url);
  for (const name of ["boom", "fn", "writeOnly"]) {
    const err = await rejection(c.call(`WithGetter.${name}`), name);
    t.equal(err.code, Code.UNIMPLEMENTED, name);
    t.equal(err.message, `rpc: can't find method WithGetter.${name}`, name);
  }
  t.equal(reads, 0, "no accessor ran for a call either");
  t.equal(await c.call("WithGetter.Real"), "real");
});

t.test("symbol-keyed and _private methods are not exposed", async (t) => {
  const sym = Symbol("hidden");
  let hiddenCalls = 0;
  class Mixed {
    [sym](): string {
      hiddenCalls++;
      return "sym";
    }
    _private(): string {
      hiddenCalls++;
      return "private";
    }
    __dunder(): string {
      hiddenCalls++;
      return "dunder";
    }
    Public(): string {
      return "public";
    }
  }
  const { url, server } = await startServer(t, { examples: false, services: [new Mixed()] });
  t.strictSame(server.methods(), ["Mixed.Public"]);
  const c = await connect(t, url);
  for (const name of ["_private", "__dunder", "hidden", "Symbol(hidden)", String(sym)]) {
    const err = await rejection(c.call(`Mixed.${name}`), name);
    t.ok(err instanceof RpcError, name);
    t.equal(err.code, Code.UNIMPLEMENTED, name);
    t.equal(err.message, `rpc: can't find method Mixed.${name}`, name);
  }
  t.equal(hiddenCalls, 0);
  t.equal(await c.call("Mixed.Public"), "public");
});

t.test("own instance properties and static methods are not exposed", async (t) => {
  class Shape {
    arrow = (): string => "arrow";
    static Make(): string {
      return "static";
    }
    Area(): number {
      return 1;
    }
  }
  const s = new Server().register(new Shape());
  t.strictSame(s.methods(), ["Shape.Area"]);
});

t.test("server.methods() lists exactly every registered Service.Method, sorted", async (t) => {
  class Zed {
    B(): void {}
    A(): void {}
  }
  const { server } = await startServer(t, { services: [new Zed(), [{ Go: () => 1 }, { name: "Alpha" }]] });
  t.strictSame(server.methods(), [
    "Alpha.Go",
    "Arith.Divide",
    "Arith.Multiply",
    "Slow.Sleep",
    "UserServer.GetUser",
    "Zed.A",
    "Zed.B",
  ]);
});

t.test("a service name that is not an identifier path is refused", async (t) => {
  const s = new Server();
  for (const name of ["", "a b", "1abc", "a..b", ".a", "a."]) {
    t.throws(() => s.register({ M: () => 1 }, { name }), name === "" ? "empty name" : name);
  }
  t.strictSame(s.methods(), []);
});

t.test("a class's own override of an Object.prototype name is not exposed", async (t) => {
  class Loud {
    Hello() {
      return "hi";
    }
    toString() {
      return "Loud";
    }
    valueOf() {
      return 1;
    }
    toJSON() {
      return {};
    }
  }
  const server = new Server();
  server.register(new Loud());
  t.same(server.methods(), ["Loud.Hello", "Loud.toJSON"], "toString and valueOf stay the object's own");
});
