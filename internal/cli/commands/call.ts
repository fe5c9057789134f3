import { fromJsonString, toJsonString, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { readInput } from "../args.js";
import { UsageError } from "../errors.js";
import type { Command } from "../context.js";
import { resolveSymbol } from "../resolve.js";

const USAGE = "notifyctl call <Service/Method> [json|@file|-]";

type DynamicClient = Record<string, (req: unknown, opts: { timeoutMs?: number }) => unknown>;

/**
 * Calls any unary or server-streaming method with JSON in and out, like grpcurl: the descriptors come
 * from the server's reflection at run time, so new RPCs need no new notifyctl.
 */
export const callCommand: Command = {
  name: "call",
  usage: "<Service/Method> [json|@file|-]",
  summary: "call any unary or server-streaming RPC with a JSON request (gRPC reflection)",
  async run(ctx, positionals) {
    if (positionals.length < 1 || positionals.length > 2) throw new UsageError("call needs a method and at most one input", USAGE);
    if (!positionals[0].includes("/")) throw new UsageError(`expected Service/Method, got ${JSON.stringify(positionals[0])}`, USAGE);
    const text = await readInput(positionals[1], ctx.io.stdin);
    const { registry, desc } = await resolveSymbol(ctx.reflection(), positionals[0]);
    if (desc.kind !== "rpc") throw new ConnectError(`${positionals[0]} is not a method`, Code.NotFound);
    if (desc.methodKind === "client_streaming" || desc.methodKind === "bidi_streaming") {
      throw new UsageError(`${desc.parent.typeName}/${desc.name} is ${desc.methodKind.replace("_", " ")}; call supports unary and server-streaming methods`);
    }
    let request;
    try {
      request = fromJsonString(desc.input, text, { registry });
    } catch (err) {
      throw new UsageError(`invalid ${desc.input.typeName} JSON: ${(err as Error).message}`);
    }
    const client = ctx.client(desc.parent as DescService) as unknown as DynamicClient;
    const print = (res: unknown) =>
      ctx.write(`${toJsonString((desc as DescMethod).output, res as never, { registry, prettySpaces: ctx.json ? 0 : 2 })}\n`);
    if (desc.methodKind === "unary") {
      print(await client[desc.localName](request, ctx.unary));
      return;
    }
    for await (const res of client[desc.localName](request, ctx.stream) as AsyncIterable<unknown>) print(res);
  },
};
