import { UsageError } from "../errors.js";
import type { Command } from "../context.js";

export const servicesCommand: Command = {
  name: "services",
  usage: "",
  summary: "list the services the server exposes (gRPC reflection)",
  async run(ctx, positionals) {
    if (positionals.length > 0) throw new UsageError("services takes no arguments", "notifyctl services");
    const names = await ctx.reflection().listServices();
    ctx.write(ctx.json ? `${JSON.stringify(names)}\n` : names.map((n) => `${n}\n`).join(""));
  },
};
