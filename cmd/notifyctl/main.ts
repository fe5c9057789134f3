import { runCli } from "../../internal/cli/run.js";

// `notifyctl ... | head` closes the pipe early; that is not an error worth a stack trace.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

const code = await runCli(
  process.argv.slice(2),
  { addr: process.env.NOTIFY_ADDR, apiKey: process.env.NOTIFY_API_KEY },
  { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
);
// Exit explicitly once output is flushed: an idle HTTP/2 session or a pending stdin read must not keep a
// finished command alive.
await Promise.all([
  new Promise((resolve) => process.stdout.write("", resolve)),
  new Promise((resolve) => process.stderr.write("", resolve)),
]);
process.exit(code);
