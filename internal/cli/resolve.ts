import type { DescEnum, DescExtension, DescMessage, DescMethod, DescService, FileRegistry } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { UsageError } from "./errors.js";
import type { ReflectionClient } from "./reflection-client.js";

export type Resolved = {
  registry: FileRegistry;
  desc: DescService | DescMethod | DescMessage | DescEnum | DescExtension;
};

/**
 * Finds a service, method ("Service/Method" or "Service.Method"), message or enum through reflection.
 * A service may be named without its package ("NotificationService/Send") when that is unambiguous.
 */
export async function resolveSymbol(reflection: ReflectionClient, input: string): Promise<Resolved> {
  let name = input.replace(/^\./, "");
  let method: string | undefined;
  if (name.includes("/")) {
    [name, method] = [name.slice(0, name.indexOf("/")), name.slice(name.indexOf("/") + 1)];
  }
  if (!name.includes(".")) name = await expandServiceName(reflection, name);

  if (method === undefined) {
    const registry = await registryOrUndefined(reflection, name);
    const desc = registry?.get(name);
    if (registry && desc) return { registry, desc };
    // Not every server indexes methods as symbols; retry as Service.Method.
    const dot = name.lastIndexOf(".");
    if (dot <= 0) throw notFound(input);
    [name, method] = [name.slice(0, dot), name.slice(dot + 1)];
  }
  const registry = await registryOrUndefined(reflection, name);
  const desc = registry?.getService(name)?.methods.find((m) => m.name === method);
  if (!registry || !desc) throw notFound(input);
  return { registry, desc };
}

async function registryOrUndefined(reflection: ReflectionClient, symbol: string) {
  try {
    return await reflection.registryFor(symbol);
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.NotFound) return undefined;
    throw err;
  }
}

async function expandServiceName(reflection: ReflectionClient, short: string): Promise<string> {
  const matches = (await reflection.listServices()).filter((s) => s.endsWith(`.${short}`));
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) {
    throw new UsageError(`${short} is ambiguous: ${matches.join(", ")}`);
  }
  return short;
}

function notFound(input: string) {
  return new ConnectError(`symbol not found: ${input}`, Code.NotFound);
}
