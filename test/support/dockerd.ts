// A private Docker daemon for tests and benchmarks (Debian's docker.io, 20.10): its own data
// root, exec root, pid file and unix socket under a temporary directory, no bridge and no
// iptables rules, one plain-HTTP registry allowed, and a docker CLI configuration of its own
// (DOCKER_CONFIG) so logins never touch the machine's. Needs root and dockerd on PATH.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { command, type CommandResult } from "./clients.ts";
import { childExited, waitFor } from "./wait-for.ts";

export interface Dockerd {
  /** `docker` with this daemon's socket and this test's CLI configuration. */
  docker(...args: string[]): Promise<CommandResult>;
  /** The same with input on stdin (`docker login --password-stdin`). */
  dockerWithInput(input: string, ...args: string[]): Promise<CommandResult>;
  /** The CLI configuration directory (config.json holds what `docker login` kept). */
  configDir: string;
  version: string;
  stop(): Promise<void>;
}

/** Whether this machine can run a private dockerd (root and a dockerd binary). */
export async function dockerAvailable(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  return (await command("dockerd", ["--version"])).code === 0;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(kill);
}

export async function startDockerd(insecureRegistries: string[]): Promise<Dockerd> {
  const dir = await mkdtemp(join(tmpdir(), "nixery-dockerd-"));
  const socket = join(dir, "docker.sock");
  const configDir = join(dir, "cli");
  await mkdir(configDir);
  const child: ChildProcess = spawn(
    "dockerd",
    [
      `--data-root=${join(dir, "root")}`,
      `--exec-root=${join(dir, "exec")}`,
      `--pidfile=${join(dir, "docker.pid")}`,
      `-H=unix://${socket}`,
      "--bridge=none",
      "--iptables=false",
      ...insecureRegistries.map((registry) => `--insecure-registry=${registry}`),
    ],
    { stdio: "ignore" },
  );
  const env = { ...process.env, DOCKER_CONFIG: configDir, DOCKER_HOST: `unix://${socket}` };
  const docker = (...args: string[]) => command("docker", args, 600_000, { env });
  const dockerWithInput = (input: string, ...args: string[]) =>
    command("docker", args, 600_000, { env, input });
  const stop = async () => {
    await stopProcess(child);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  try {
    const version = await waitFor(
      "dockerd to answer",
      async () => {
        const answer = await docker("version", "--format", "{{.Server.Version}}");
        return answer.code === 0 ? answer.stdout.trim() : null;
      },
      { timeoutMs: 90_000, intervalMs: 500, failIf: () => childExited(child, "dockerd") },
    );
    return { docker, dockerWithInput, configDir, version, stop };
  } catch (error) {
    const last = await docker("version");
    await stop();
    throw new Error(`dockerd did not start (${(error as Error).message}): ${last.stderr}`);
  }
}
