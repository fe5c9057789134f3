#!/usr/bin/env node
// Launcher for `notifyctl`: runs the compiled CLI when `tsc` has built dist/ and the build is not older
// than the TypeScript sources (a stale dist/ would silently run old code), else the sources through tsx.
// Paths are relative to this file, so it works from any directory and through npm link.
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const built = `${root}dist/cmd/notifyctl/main.js`;

function newestSource(dir) {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

const fresh =
  existsSync(built) &&
  statSync(built).mtimeMs >= Math.max(...["cmd/notifyctl", "internal", "gen"].map((d) => newestSource(root + d)));
if (fresh) {
  await import(new URL("../dist/cmd/notifyctl/main.js", import.meta.url).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("../cmd/notifyctl/main.ts", import.meta.url).href);
}
