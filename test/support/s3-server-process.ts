// The local S3 server (s3-server.ts) in a process of its own, for benchmarks that time a client:
// in the client's process, the server's work (signature and payload checks, spooling, s3rver's
// writes, completing and copying objects) would run on the client's event loop, which R2's never
// does. Run as a script, it starts the server, prints its description as one JSON line and stops
// it on SIGTERM or when its stdin closes (so it never outlives the process that started it).

import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startS3Server, type S3ServerOptions, type S3TestServer } from "./s3-server.ts";

export async function startS3ServerProcess(
  options: S3ServerOptions = {},
): Promise<S3TestServer & { pid: number }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(import.meta.url), JSON.stringify(options)],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const exited = once(child, "exit");
  exited.catch(() => {});
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([
    once(lines, "line"),
    exited.then(([code]) => {
      throw new Error(`the S3 server process exited (code ${code}) before it started`);
    }),
  ])) as [string];
  lines.close();
  const server = JSON.parse(line) as Omit<S3TestServer, "stop">;
  return {
    ...server,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await startS3Server(JSON.parse(process.argv[2] ?? "{}") as S3ServerOptions);
  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= server.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", stop);
  process.stdin.on("end", stop);
  process.stdin.on("close", stop);
  process.stdin.resume();
  const { stop: _, ...description } = server;
  console.log(JSON.stringify(description));
}
