// Asks a gRPC server about its services through server reflection (grpc.reflection.v1), as grpcurl does.
import protobuf from "protobufjs";
import type { Root } from "protobufjs";
import descriptor from "protobufjs/ext/descriptor/index.js";
import { Code } from "../../core/codes.js";
import { RpcError } from "../../core/errors.js";
import { dial, type DialOptions } from "../../core/dial.js";
import { protobuf as protobufCodec } from "../../codecs/protobuf/index.js";
import { reflectionRoot } from "./standard-protos.js";

const METHOD = "grpc.reflection.v1.ServerReflection.ServerReflectionInfo";

interface Answer {
  file_descriptor_response?: { file_descriptor_proto: Uint8Array[] } | null;
  list_services_response?: { service: Array<{ name: string }> } | null;
  error_response?: { error_code: number; error_message: string } | null;
}

/** One reflection session: each question gets its answer, in order, on one bidi stream. */
async function ask(address: string, questions: object[], options: DialOptions): Promise<Answer[]> {
  const client = await dial(address, { ...options, codec: protobufCodec({ root: reflectionRoot("v1") }) });
  try {
    const answers: Answer[] = [];
    for await (const answer of client.bidiStream<Answer>(METHOD, questions)) answers.push(answer);
    return answers;
  } finally {
    await client.close();
  }
}

function refused(answer: Answer | undefined, what: string): never {
  const e = answer?.error_response;
  throw new RpcError(e ? (e.error_code as Code) : Code.INTERNAL, e ? `rpc: reflection: ${what}: ${e.error_message}` : `rpc: reflection: no answer about ${what}`, { fromPeer: Boolean(e) });
}

/** The full names of the services a server offers. */
export async function listServices(address: string, options: DialOptions = {}): Promise<string[]> {
  const [answer] = await ask(address, [{ list_services: "" }], options);
  if (!answer?.list_services_response) refused(answer, "list services");
  return answer.list_services_response.service.map((s) => s.name).sort();
}

/**
 * A Root with the .proto files that declare `symbols` (services, messages) and everything they
 * import, built from the server's own descriptors: calls need no local .proto.
 */
export async function fetchRoot(address: string, symbols: readonly string[], options: DialOptions = {}): Promise<Root> {
  const answers = await ask(address, symbols.map((s) => ({ file_containing_symbol: s })), options);
  const files = new Map<string, Uint8Array>();
  symbols.forEach((symbol, i) => {
    const answer = answers[i];
    if (!answer?.file_descriptor_response) refused(answer, symbol);
    for (const bytes of answer.file_descriptor_response.file_descriptor_proto) {
      const file = descriptor.FileDescriptorProto.decode(bytes) as unknown as { name?: string };
      files.set(file.name ?? `file${files.size}`, bytes);
    }
  });
  const set = descriptor.FileDescriptorSet.create({ file: [...files.values()].map((b) => descriptor.FileDescriptorProto.decode(b)) });
  const root = (protobuf.Root as unknown as { fromDescriptor(set: unknown): Root }).fromDescriptor(set);
  root.resolveAll();
  return root;
}
