// A Nix remote builder on 127.0.0.1 for tests: Debian's sshd with its own config, host key, port,
// authorized_keys and pid file, whose one key may only run `nix-store --serve --write` against a
// store of its own (a chroot store under a temporary directory, so what it builds is provably
// built there and not in /nix/store). The origin side gets a nix.conf with `builders` naming it
// and `max-jobs = 0`, so the origin builds nothing itself.

import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { command } from "./clients.ts";
import { childExited, portOpen, waitFor } from "./wait-for.ts";

export interface RemoteBuilder {
  /** NIX_CONF_DIR for the origin: no local builds, every build on this builder. */
  originNixConfDir: string;
  /** The builder's own store; what it built is under `${storeRoot}/nix/store`. */
  storeRoot: string;
  /** Environment the origin needs to reach it (NIX_SSHOPTS with the port and known host). */
  originEnv: Record<string, string>;
  /** Lines sshd logged (each accepted connection is one). */
  log(): Promise<string>;
  /** Whether a store path is valid in the builder's own store. */
  hasPath(storePath: string): Promise<boolean>;
  stop(): Promise<void>;
}

export interface RemoteBuilderOptions {
  /** Systems the builder accepts, e.g. ["x86_64-linux", "aarch64-linux"]. */
  systems: string[];
  /** Lines for the builder's own nix.conf (e.g. `extra-platforms = aarch64-linux`). */
  builderNixConf?: string[];
  /** Lines for the origin's nix.conf besides `builders` (default: the tests' offline settings). */
  originNixConf?: string[];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  await waitFor(`sshd to listen on 127.0.0.1:${port}`, () => portOpen(port), {
    failIf: () => childExited(child, "sshd"),
  });
}

const offlineNixConf = [
  "build-users-group =",
  "sandbox = false",
  "substituters =",
  "connect-timeout = 5",
  "warn-dirty = false",
];

export async function startRemoteBuilder(options: RemoteBuilderOptions): Promise<RemoteBuilder> {
  const dir = await mkdtemp(join(tmpdir(), "nixery-builder-"));
  const storeRoot = join(dir, "store");
  const key = join(dir, "client_key");
  const hostKey = join(dir, "host_key");
  for (const file of [key, hostKey]) {
    const made = await command("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file]);
    if (made.code !== 0) throw new Error(`ssh-keygen failed: ${made.stderr}`);
  }
  const builderConf = join(dir, "builder-nix");
  await mkdir(builderConf);
  await writeFile(
    join(builderConf, "nix.conf"),
    [...offlineNixConf, ...(options.builderNixConf ?? [])].join("\n") + "\n",
  );
  // The key may run only this: Nix's remote protocol against the builder's own store.
  const serve = join(dir, "serve.sh");
  await writeFile(
    serve,
    `#!/bin/sh\nexec env NIX_CONF_DIR=${builderConf} nix-store --serve --write --store ${storeRoot}\n`,
  );
  await chmod(serve, 0o755);
  const publicKey = (await readFile(`${key}.pub`, "utf8")).trim();
  await writeFile(join(dir, "authorized_keys"), `command="${serve}",restrict ${publicKey}\n`);
  const port = await freePort();
  const config = join(dir, "sshd_config");
  await writeFile(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "",
    ].join("\n"),
  );
  // sshd's privilege separation directory (Debian's service creates it; we do not use that).
  await mkdir("/run/sshd", { recursive: true });
  const logFile = join(dir, "sshd.log");
  const sshd = spawn("/usr/sbin/sshd", ["-D", "-f", config, "-E", logFile], { stdio: "ignore" });
  const stop = async () => {
    if (sshd.exitCode === null && sshd.signalCode === null) {
      const exited = new Promise((resolve) => sshd.once("exit", resolve));
      sshd.kill("SIGTERM");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, sshd);
  } catch (error) {
    await stop();
    throw error;
  }

  const hostPublicKey = Buffer.from(await readFile(`${hostKey}.pub`)).toString("base64");
  const originConf = join(dir, "origin-nix");
  await mkdir(originConf);
  // builders: URI, systems, key, max jobs, speed factor, features, mandatory features, host key.
  const builder = `ssh://root@127.0.0.1 ${options.systems.join(",")} ${key} 2 1 - - ${hostPublicKey}`;
  await writeFile(
    join(originConf, "nix.conf"),
    [
      ...(options.originNixConf ?? offlineNixConf),
      "max-jobs = 0",
      "builders-use-substitutes = true",
      `builders = ${builder}`,
      "",
    ].join("\n"),
  );
  return {
    originNixConfDir: originConf,
    storeRoot,
    originEnv: { NIX_CONF_DIR: originConf, NIX_SSHOPTS: `-p ${port}` },
    log: () => readFile(logFile, "utf8").catch(() => ""),
    async hasPath(storePath) {
      const check = await command("env", [
        `NIX_CONF_DIR=${builderConf}`,
        "nix-store",
        "--store",
        storeRoot,
        "--check-validity",
        storePath,
      ]);
      return check.code === 0;
    },
    stop,
  };
}
