// A real OpenSSH server on 127.0.0.1 for tests of package repositories reached over SSH: its own
// configuration, host key, random port, authorized_keys and pid file under a temporary
// directory, no passwords, and git served to one deploy key. Runs as root (as the tests do);
// stop() ends the daemon it started and removes its files.

import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { command } from "./clients.ts";
import { childExited, portOpen, waitFor } from "./wait-for.ts";

export interface SshServer {
  port: number;
  /** A known_hosts file that names this server's host key. */
  knownHosts: string;
  /** The deploy key's private half (mode 0600) and its text. */
  deployKey: string;
  deployKeyText: string;
  /** `ssh://root@127.0.0.1:PORT/<path>` for a repository on this machine. */
  url(repositoryPath: string): string;
  /** What sshd logged (connections, accepted and refused keys). */
  log(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function keygen(path: string, comment: string): Promise<void> {
  const made = await command("ssh-keygen", [
    "-q",
    "-t",
    "ed25519",
    "-N",
    "",
    "-C",
    comment,
    "-f",
    path,
  ]);
  if (made.code !== 0) throw new Error(`ssh-keygen failed: ${made.stderr}`);
}

export async function startSshServer(): Promise<SshServer> {
  const dir = await mkdtemp(join(tmpdir(), "nixery-sshd-"));
  await chmod(dir, 0o700);
  await keygen(join(dir, "host_key"), "nixery-test-host");
  await keygen(join(dir, "deploy_key"), "nixery-test-deploy");
  const deployPublic = await readFile(join(dir, "deploy_key.pub"), "utf8");
  // `restrict`: no forwarding, no pty; commands (git-upload-pack) still run.
  await writeFile(join(dir, "authorized_keys"), `restrict ${deployPublic}`, { mode: 0o600 });
  const port = await freePort();
  const hostPublic = (await readFile(join(dir, "host_key.pub"), "utf8")).trim().split(" ");
  const knownHosts = join(dir, "known_hosts");
  await writeFile(knownHosts, `[127.0.0.1]:${port} ${hostPublic[0]} ${hostPublic[1]}\n`);
  const config = join(dir, "sshd_config");
  await writeFile(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "host_key")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "AuthenticationMethods publickey",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "AllowUsers root",
      "UsePAM no",
      "StrictModes no",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );
  // sshd needs its privilege separation directory (Debian's service unit creates it).
  await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  let output = "";
  const daemon: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  daemon.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const stop = async () => {
    if (daemon.exitCode === null && daemon.signalCode === null) {
      const exited = new Promise((resolve) => daemon.once("exit", resolve));
      daemon.kill("SIGTERM");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor("sshd to listen", () => portOpen(port), {
      intervalMs: 50,
      failIf: () => childExited(daemon, "sshd"),
    });
  } catch (error) {
    await stop();
    throw new Error(`sshd did not start (${(error as Error).message}): ${output}`);
  }
  const deployKey = join(dir, "deploy_key");
  return {
    port,
    knownHosts,
    deployKey,
    deployKeyText: await readFile(deployKey, "utf8"),
    url: (path) => `ssh://root@127.0.0.1:${port}${path}`,
    log: () => output,
    stop,
  };
}
