// Runs the local stack (`tsx stack/start.ts`) as a child process on free ports for end-to-end
// tests, and reads its "stack ready" line to find the edge and the origin's process id.

import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { testNixEnv } from "./nix-env.ts";
import { repoRoot } from "./origin-process.ts";

export interface LocalStack {
  /** host:port of the edge, as registry clients spell it. */
  edgeHost: string;
  originPid: number;
  /** Every line the stack printed so far. */
  output: string[];
  process: ChildProcess;
  /** Resolves when a printed line matches. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Ctrl-C; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A test stack's environment: this process's, the test Nix configuration, free ports and data
 * under `dataDir`, without an inherited package source, origin secret or token key (so the stack
 * uses the offline fixture set and makes its own secret), then `extra`.
 */
export async function localStackEnv(
  dataDir: string,
  extra: Record<string, string> = {},
): Promise<Record<string, string>> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...testNixEnv(),
    PORT: String(await freePort()),
    ORIGIN_PORT: String(await freePort()),
    NIXERY_DATA_DIR: dataDir,
  };
  for (const name of [
    "NIXERY_PKGS_PATH",
    "NIXERY_PKGS_REPO",
    "NIXERY_CHANNEL",
    "NIXERY_FLAKE",
    "ORIGIN_SECRET",
    "NIXERY_TOKEN_KEY",
  ])
    delete env[name];
  return { ...env, ...extra };
}

/** Starts `stack/start.ts` of this checkout, or of another one (`root`, for before/after runs). */
export async function startLocalStack(
  env: Record<string, string>,
  root: string = repoRoot,
): Promise<LocalStack> {
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "stack/start.ts")], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on("line", (line) => {
      if (process.env.EDGE_DEBUG) process.stderr.write(`${line}\n`);
      output.push(line);
      for (const waiter of waiters) {
        if (waiter.pattern.test(line)) {
          waiters.delete(waiter);
          waiter.resolve(line);
        }
      }
    });
  }
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  const waitForLine = (pattern: RegExp, timeoutMs = 60_000) => {
    const seen = output.find((line) => pattern.test(line));
    if (seen) return Promise.resolve(seen);
    return new Promise<string>((resolve, reject) => {
      const waiter = { pattern, resolve };
      waiters.add(waiter);
      void exited.then((code) =>
        reject(new Error(`the stack exited (${code}):\n${output.join("\n")}`)),
      );
      setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`no line matching ${pattern} in ${timeoutMs} ms:\n${output.join("\n")}`));
      }, timeoutMs).unref();
    });
  };
  const ready = JSON.parse(await waitForLine(/"event":"stack ready"/)) as {
    edge: string;
    originPid: number;
  };
  return {
    edgeHost: new URL(ready.edge).host,
    originPid: ready.originPid,
    output,
    process: child,
    waitForLine,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      return exited;
    },
  };
}
