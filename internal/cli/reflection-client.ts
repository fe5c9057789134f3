import { create, createFileRegistry, fromBinary, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import type { ReflectionAnswer, ReflectionRequest } from "../ops/reflection.js";
import { createConnectClient, type ConnectClientOptions } from "../rpc/connect-client.js";

export interface ReflectionClient {
  /** Fully qualified names of the services the server lists. */
  listServices(): Promise<string[]>;
  /** A registry with the file that defines `symbol` and everything it imports, fetched from the server. */
  registryFor(symbol: string): Promise<FileRegistry>;
}

/**
 * Asks a server's reflection service, v1 first and v1alpha when v1 is Unimplemented (older servers).
 * One short stream per question keeps it simple and independent of what a server chooses to
 * leave out of later answers on the same stream.
 */
export function createReflectionClient(opts: ConnectClientOptions & { timeoutMs?: number }): ReflectionClient {
  const clientV1 = createConnectClient(v1.ServerReflection, opts);
  const clientV1alpha = createConnectClient(v1alpha.ServerReflection, opts);
  const callOpts = { timeoutMs: opts.timeoutMs };
  let version: "v1" | "v1alpha" | undefined;

  const askV1 = async (req: ReflectionRequest) => {
    const stream = clientV1.serverReflectionInfo(once(create(v1.ServerReflectionRequestSchema, { messageRequest: req })), callOpts);
    return firstAnswer(stream);
  };
  const askV1alpha = async (req: ReflectionRequest) => {
    const stream = clientV1alpha.serverReflectionInfo(
      once(create(v1alpha.ServerReflectionRequestSchema, { messageRequest: req })),
      callOpts,
    );
    return firstAnswer(stream);
  };

  const ask = async (req: ReflectionRequest): Promise<ReflectionAnswer> => {
    let answer: ReflectionAnswer | { case: undefined };
    if (version === "v1alpha") {
      answer = await askV1alpha(req);
    } else {
      try {
        answer = await askV1(req);
        version = "v1";
      } catch (err) {
        if (version === "v1" || !(err instanceof ConnectError) || err.code !== Code.Unimplemented) throw err;
        version = "v1alpha";
        answer = await askV1alpha(req).catch((e: unknown) => {
          if (e instanceof ConnectError && e.code === Code.Unimplemented) {
            throw new ConnectError("the server does not support gRPC reflection", Code.Unimplemented);
          }
          throw e;
        });
      }
    }
    if (answer.case === undefined) throw new ConnectError("empty reflection answer", Code.Internal);
    if (answer.case === "errorResponse") {
      throw new ConnectError(answer.value.errorMessage, answer.value.errorCode as Code);
    }
    return answer;
  };

  const files = async (req: ReflectionRequest): Promise<FileDescriptorProto[]> => {
    const answer = await ask(req);
    if (answer.case !== "fileDescriptorResponse") throw new ConnectError(`unexpected answer ${answer.case}`, Code.Internal);
    return answer.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
  };

  return {
    async listServices() {
      const answer = await ask({ case: "listServices", value: "*" });
      if (answer.case !== "listServicesResponse") throw new ConnectError(`unexpected answer ${answer.case}`, Code.Internal);
      return answer.value.service.map((s) => s.name).sort();
    },
    async registryFor(symbol) {
      const first = await files({ case: "fileContainingSymbol", value: symbol });
      if (first.length === 0) throw new ConnectError(`no file for ${symbol}`, Code.NotFound);
      const byName = new Map(first.map((f) => [f.name, f]));
      // Servers may leave out imports they think we have; fetch whatever is still missing by name.
      for (;;) {
        const missing = [...byName.values()].flatMap((f) => f.dependency).filter((d) => !byName.has(d));
        if (missing.length === 0) break;
        for (const f of await files({ case: "fileByFilename", value: missing[0] })) byName.set(f.name, f);
        if (!byName.has(missing[0])) throw new ConnectError(`server did not return ${missing[0]}`, Code.NotFound);
      }
      return createFileRegistry(first[0], (name) => byName.get(name));
    },
  };
}

async function* once<T>(item: T): AsyncIterable<T> {
  yield item;
}

/**
 * Reads the stream to its end rather than breaking out after the first answer: the server ends it right
 * after our half-close, and an abandoned stream would keep the HTTP/2 session (and the process) alive.
 */
async function firstAnswer(
  stream: AsyncIterable<{ messageResponse: unknown }>,
): Promise<ReflectionAnswer | { case: undefined }> {
  let first: ReflectionAnswer | { case: undefined } = { case: undefined };
  let seen = false;
  for await (const res of stream) {
    if (!seen) first = res.messageResponse as ReflectionAnswer | { case: undefined };
    seen = true;
  }
  return first;
}
