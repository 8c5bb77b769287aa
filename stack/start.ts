// `npm start`: the local stack. Runs the origin (tsx origin/main.ts) as a child process and the
// edge Worker in real workerd (Miniflare) in this one, with KV, R2 and Cache persisted under the
// data directory, behind a TCP front that turns away TLS probes (plain-http-front.ts). Two processes: if the origin stops, the edge keeps serving what it has.
// Ctrl-C stops both. This file and origin/main.ts are the entry points that read process.env.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { stdoutLines } from "../origin/log.ts";
import { parseStackConfig, StackConfigError, type StackConfig } from "./config.ts";
import { startEdgeRuntime, type EdgeRuntime, type EdgeRuntimeOptions } from "./edge-runtime.ts";
import { startPlainHttpFront, type PlainHttpFront } from "./plain-http-front.ts";

const repoRoot = fileURLToPath(new URL("../", import.meta.url));

/** Once stdout fails (its reader went away), lines are dropped and the stack keeps running. */
const writeOut = stdoutLines();

function print(line: string): void {
  writeOut(`${line}\n`);
}

function say(message: string): void {
  print(`stack | ${message}`);
}

function prefixLines(
  stream: NodeJS.ReadableStream,
  prefix: string,
  onLine?: (line: string) => void,
): void {
  createInterface({ input: stream }).on("line", (line) => {
    print(`${prefix}${line}`);
    onLine?.(line);
  });
}

/**
 * Starts the origin and resolves once it says it is listening. An origin that refuses its settings
 * (exit status 2, one "configuration error: …" line) rejects with that line as a StackConfigError.
 */
function startOrigin(config: StackConfig): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", `${repoRoot}origin/main.ts`], {
    cwd: repoRoot,
    env: config.originEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    prefixLines(child.stdout!, "origin | ", (line) => {
      if (line.includes('"origin listening"')) resolve(child);
    });
    let refusal: string | null = null;
    prefixLines(child.stderr!, "origin | ", (line) => {
      refusal ??= /^configuration error: (.*)$/.exec(line)?.[1] ?? null;
    });
    child.once("exit", (code, signal) =>
      reject(
        code === 2 && refusal !== null
          ? new StackConfigError(`the origin refused to start: ${refusal}`)
          : new Error(`the origin exited (${signal ?? code}) before listening`),
      ),
    );
  });
}

/**
 * A private stack's users (the text of NIXERY_HTPASSWD, bound to the Worker as HTPASSWD) and
 * token key: NIXERY_TOKEN_KEY, or the one kept in the data dir (made at first start, 0600), which
 * the origin gets too. Null for a public stack.
 */
async function privateAccess(config: StackConfig): Promise<EdgeRuntimeOptions["access"] | null> {
  if (!config.htpasswdPath) return null;
  let htpasswd: string;
  try {
    htpasswd = await readFile(config.htpasswdPath, "utf8");
  } catch (error) {
    throw new StackConfigError(
      `NIXERY_HTPASSWD=${config.htpasswdPath}: cannot read it (${(error as Error).message})`,
    );
  }
  let key = config.tokenKey;
  if (!key) {
    await mkdir(config.dataDir, { recursive: true });
    const file = join(config.dataDir, "token-key");
    key = (await readFile(file, "utf8").catch(() => "")).trim();
    if (key.length < 32) {
      key = randomBytes(32).toString("hex");
      await writeFile(file, `${key}\n`, { mode: 0o600 });
    }
  }
  return {
    htpasswd,
    tokenKeys: key.split(/[\s,]+/).filter((part) => part !== ""),
    anonymousPull: config.anonymousPull,
  };
}

async function main(): Promise<void> {
  let config: StackConfig;
  try {
    config = parseStackConfig(process.env, repoRoot);
  } catch (error) {
    if (error instanceof StackConfigError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  for (const note of config.notes) say(note);
  await mkdir(config.edgeDir, { recursive: true });
  if (config.secretGenerated) say("ORIGIN_SECRET not set: generated one for this run");
  const access = await privateAccess(config).catch((error: unknown) => {
    if (!(error instanceof StackConfigError)) throw error;
    process.stderr.write(`configuration error: ${error.message}\n`);
    process.exit(2);
  });
  if (access) {
    // The origin signs and checks tokens with the same key, so a login works at both.
    config.originEnv.NIXERY_TOKEN_KEY = access.tokenKeys.join(" ");
    say(
      `private: users from ${config.htpasswdPath} (NIXERY_HTPASSWD) on the edge and the origin; restart after changing them for the edge to see it`,
    );
  }

  const origin = await startOrigin(config);
  let stopping = false;
  origin.once("exit", (code, signal) => {
    if (!stopping)
      say(`the origin exited (${signal ?? code}); the edge keeps serving cached images`);
  });
  const originUrl = `http://127.0.0.1:${config.originPort}`;

  let edge: EdgeRuntime;
  try {
    edge = await startEdgeRuntime({
      originUrl,
      originSecret: config.originSecret,
      pollSeconds: config.pollSeconds,
      deadlineSeconds: config.deadlineSeconds,
      persistDir: config.edgeDir,
      ...(access ? { access } : {}),
      limits: {
        loginFailures: config.limits.loginFailures,
        ...(config.limits.coldBuilds > 0 ? { coldBuilds: config.limits.coldBuilds } : {}),
      },
      port: 0,
      host: "127.0.0.1",
      onLogLine: (line) => print(`edge   | ${line}`),
    });
  } catch (error) {
    origin.kill("SIGTERM");
    throw error;
  }
  let front: PlainHttpFront;
  try {
    front = await startPlainHttpFront(config.host, config.edgePort, {
      host: "127.0.0.1",
      port: Number(edge.url!.port),
    });
  } catch (error) {
    origin.kill("SIGTERM");
    await edge.stop();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
      throw new StackConfigError(
        code === "EADDRINUSE"
          ? `PORT=${config.edgePort}: ${config.host}:${config.edgePort} is already in use; stop what listens there or choose another PORT`
          : `PORT=${config.edgePort}: cannot listen on ${config.host}:${config.edgePort} (${code})`,
      );
    }
    throw error;
  }
  const edgeHost = `${config.host}:${front.port}`;
  say(`edge (workerd) on http://${edgeHost}, origin on ${originUrl}, data in ${config.dataDir}`);
  say(
    `pull: skopeo copy --src-tls-verify=false docker://${edgeHost}/shell/hello:latest oci:/tmp/img:latest`,
  );
  say(`      ctr images pull --plain-http ${edgeHost}/hello:latest`);
  print(
    JSON.stringify({
      event: "stack ready",
      edge: `http://${edgeHost}`,
      origin: originUrl,
      originPid: origin.pid,
    }),
  );

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping`);
    const originExited =
      origin.exitCode === null && origin.signalCode === null
        ? new Promise((resolve) => origin.once("exit", resolve))
        : Promise.resolve();
    origin.kill("SIGTERM");
    const grace = setTimeout(() => {
      say("the origin did not stop within 10 s: killing it");
      origin.kill("SIGKILL");
    }, 10_000);
    await Promise.all([front.stop().then(() => edge.stop()), originExited]);
    clearTimeout(grace);
    process.exit(0);
  };
  // Miniflare installs SIGINT/SIGTERM handlers that exit at once (its exit hook still disposes
  // workerd); replace them so that the origin is stopped first and never left behind.
  // SIGHUP: the terminal it ran in was closed.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => void stop(signal));
  }
}

await main().catch((error: unknown) => {
  if (!(error instanceof StackConfigError)) throw error;
  process.stderr.write(`configuration error: ${error.message}\n`);
  process.exit(2);
});
