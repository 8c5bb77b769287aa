// A private dockerd (Debian's docker.io, 20.10) for tests and benchmarks: its own data root, exec
// root, pid file and unix socket under a directory of the caller's, no bridge, no iptables, and
// the registry under test as a plain-HTTP insecure registry. Needs root and dockerd on PATH.

import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { command, type CommandResult } from "./clients.ts";

export interface Dockerd {
  child: ChildProcess;
  version: string;
  docker(...args: string[]): Promise<CommandResult>;
  stop(): Promise<void>;
}

/** Whether this machine can run a private dockerd (root and a dockerd binary). */
export async function dockerAvailable(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  return (await command("dockerd", ["--version"])).code === 0;
}

export async function startDockerd(dir: string, insecureRegistry: string): Promise<Dockerd> {
  const socket = join(dir, "docker.sock");
  const child: ChildProcess = spawn(
    "dockerd",
    [
      `--data-root=${join(dir, "root")}`,
      `--exec-root=${join(dir, "exec")}`,
      `--pidfile=${join(dir, "docker.pid")}`,
      `-H=unix://${socket}`,
      "--bridge=none",
      "--iptables=false",
      `--insecure-registry=${insecureRegistry}`,
    ],
    { stdio: "ignore" },
  );
  const docker = (...args: string[]) =>
    command("docker", [`--host=unix://${socket}`, ...args], 600_000);
  const stop = () => stopProcess(child);
  for (let attempt = 0; ; attempt++) {
    const version = await docker("version", "--format", "{{.Server.Version}}");
    if (version.code === 0) return { child, docker, version: version.stdout.trim(), stop };
    if (attempt > 60 || child.exitCode !== null) {
      await stop();
      throw new Error(`dockerd did not start: ${version.stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(kill);
}
