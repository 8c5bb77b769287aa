// Starts a real origin process (tsx origin/main.ts) for integration tests: port 0, the test Nix
// configuration, the offline fixture package set and a fresh data directory unless told otherwise.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { fixturePackageSet, testNixEnv } from "./nix-env.ts";
import { childExited } from "./wait-for.ts";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

export interface OriginProcess {
  url: string;
  port: number;
  dataDir: string;
  /** Every JSON log line the origin printed so far. */
  logs: Record<string, unknown>[];
  /** Everything the origin wrote to stderr so far. */
  stderr(): string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface OriginOptions {
  env?: Record<string, string>;
  /** Package set directory (default: test/fixtures/pkgs). Ignored when env sets a source. */
  pkgsPath?: string;
  /** Reuse a data directory (default: a fresh temporary one, removed on stop). */
  dataDir?: string;
  /** Run the origin of another checkout (e.g. an older commit, for before/after figures). */
  root?: string;
  /**
   * Stop reading log lines once the origin listens (its stdout is drained unread): for load
   * benchmarks, where parsing every access-log line would take CPU from what is measured.
   */
  unreadLogs?: boolean;
}

/** The environment an origin process gets in tests (the test Nix config, the fixture set). */
export function originEnv(dataDir: string, options: OriginOptions = {}): Record<string, string> {
  const sourceSet = ["NIXERY_PKGS_PATH", "NIXERY_PKGS_REPO", "NIXERY_CHANNEL", "NIXERY_FLAKE"].some(
    (name) => options.env?.[name],
  );
  return {
    ...(process.env as Record<string, string>),
    ...testNixEnv(),
    HOST: "127.0.0.1",
    PORT: "0",
    NIXERY_DATA_DIR: dataDir,
    ...(sourceSet ? {} : { NIXERY_PKGS_PATH: options.pkgsPath ?? fixturePackageSet }),
    ...options.env,
  };
}

/**
 * node's arguments for the origin of checkout `root`. A profiling aid: ORIGIN_NODE_ARGS="--cpu-prof
 * --cpu-prof-dir=DIR" (split on spaces) goes to the node of every origin started here.
 */
function originArgv(root: string, args: readonly string[] = []): string[] {
  const nodeArgs = process.env.ORIGIN_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
  return [...nodeArgs, "--import", "tsx", join(root, "origin/main.ts"), ...args];
}

/** Runs an origin that is expected to exit (a start-up check failing); its status and output. */
export async function runOriginToExit(
  dataDir: string,
  options: OriginOptions & { args?: string[] } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, originArgv(repoRoot, options.args), {
    cwd: repoRoot,
    env: originEnv(dataDir, options),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const kill = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearTimeout(kill);
  return { code, stdout, stderr };
}

/** Why waiting on `origin` is pointless (it has exited), or null while it runs. */
export function exitedEarly(origin: OriginProcess): string | null {
  const exited = childExited(origin.process, "the origin");
  return exited && `${exited}:\n${origin.stderr()}`;
}

export async function startOrigin(options: OriginOptions = {}): Promise<OriginProcess> {
  const ownDataDir = !options.dataDir;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "nixery-origin-")));
  const env = originEnv(dataDir, options);
  const root = options.root ?? repoRoot;
  const child = spawn(process.execPath, originArgv(root), {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    if (process.env.ORIGIN_DEBUG) process.stderr.write(chunk);
  });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      if (process.env.ORIGIN_DEBUG) process.stderr.write(`${line}\n`);
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.event === "origin listening") {
          resolve(Number(entry.port));
          if (options.unreadLogs) {
            lines.close();
            child.stdout!.resume();
          }
        }
      } catch {
        // not a log line
      }
    });
    child.once("exit", (code) =>
      reject(new Error(`origin exited with ${code} before listening:\n${stderr}`)),
    );
    setTimeout(() => reject(new Error(`origin did not start in 30 s:\n${stderr}`)), 30_000).unref();
  });
  let stopped: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    logs,
    stderr: () => stderr,
    process: child,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once("exit", resolve));
          child.kill("SIGTERM");
          // A stuck event loop ignores SIGTERM; never let a test hang on it. The origin's own
          // shutdown gives builds 15 s to stop, and a busy machine is slow: SIGKILL comes later.
          const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
          await exited;
          clearTimeout(kill);
        }
        if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
