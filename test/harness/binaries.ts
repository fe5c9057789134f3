import { accessSync, constants } from "node:fs";
import { join } from "node:path";

const EXTRA_DIRS = ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"];

/** Absolute path of an executable on PATH or in the usual sbin folders; throws with an install hint. */
export function findBinary(name: string, installHint: string): string {
  const dirs = [...(process.env.PATH ?? "").split(":").filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  throw new Error(`${name} not found on PATH or in ${EXTRA_DIRS.join(", ")}; install it: ${installHint}`);
}

export function hasBinary(name: string): boolean {
  try {
    findBinary(name, "");
    return true;
  } catch {
    return false;
  }
}
