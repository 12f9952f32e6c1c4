// Two in-memory Duplex streams wired back to back; the memory:// transport's pair, which
// behaves as a socket pair does when one end ends or is destroyed.
export { duplexPair } from "../../transports/memory.js";
