// Real registry clients for integration tests: skopeo into an OCI layout, umoci unpack, running
// a program from an unpacked image with chroot, and containerd's ctr against a private daemon.

import { randomUUID } from "node:crypto";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { childExited, waitFor } from "./wait-for.ts";

const run = promisify(execFile);

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a command; never throws for a non-zero exit (the caller asserts on `code`). */
export function command(
  file: string,
  args: string[],
  timeoutMs = 120_000,
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { timeout: timeoutMs, maxBuffer: 64 << 20, env: options.env },
      (error, stdout, stderr) => {
        if (!error) return resolve({ stdout, stderr, code: 0 });
        const code = (error as { code?: number | string }).code;
        resolve({
          stdout,
          stderr: stderr || String(error),
          code: typeof code === "number" ? code : 1,
        });
      },
    );
    // A program that exits without reading its input closes the pipe: that is no failure.
    child.stdin?.on("error", () => {});
    child.stdin?.end(options.input ?? "");
  });
}

/** `skopeo copy docker://HOST/NAME:TAG oci:DIR:TAG` over plain HTTP (`extra`: e.g. --src-creds). */
export async function skopeoCopy(
  registry: string,
  reference: string,
  layoutDir: string,
  extra: string[] = [],
): Promise<CommandResult> {
  return command("skopeo", [
    "copy",
    "--src-tls-verify=false",
    "--retry-times=0",
    ...extra,
    `docker://${registry}/${reference}`,
    `oci:${layoutDir}:latest`,
  ]);
}

/** Unpacks an OCI layout with umoci; returns the rootfs path. */
export async function umociUnpack(layoutDir: string, bundleDir: string): Promise<string> {
  const result = await command("umoci", ["unpack", "--image", `${layoutDir}:latest`, bundleDir]);
  if (result.code !== 0) throw new Error(`umoci unpack failed: ${result.stderr}`);
  return join(bundleDir, "rootfs");
}

/** Runs a program inside an unpacked rootfs with chroot (as root, no network). */
export async function runInRootfs(rootfs: string, args: string[]): Promise<CommandResult> {
  return command("chroot", [rootfs, ...args], 60_000);
}

export interface Containerd {
  socket: string;
  /**
   * `ctr images pull`, with `--user NAME:PASSWORD` when `user` is given and any further ARGS
   * (e.g. `--platform linux/arm64`).
   */
  pull(reference: string, user?: string, args?: string[]): Promise<CommandResult>;
  /** `ctr` with the daemon's socket and the tests' namespace. */
  ctr(args: string[]): Promise<CommandResult>;
  /** `ctr run --rm REFERENCE ID ARGS…` of a pulled image, as Kubernetes runs a command by name. */
  run(reference: string, args: string[]): Promise<CommandResult>;
  stop(): Promise<void>;
}

/** A private containerd (temporary root, state and socket; CRI disabled) for ctr pulls. */
export async function startContainerd(): Promise<Containerd> {
  const dir = await mkdtemp(join(tmpdir(), "nixery-containerd-"));
  const socket = join(dir, "containerd.sock");
  const config = join(dir, "config.toml");
  await writeFile(
    config,
    [
      "version = 2",
      `root = "${join(dir, "root")}"`,
      `state = "${join(dir, "state")}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      "[grpc]",
      `  address = "${socket}"`,
      "[ttrpc]",
      `  address = "${socket}.ttrpc"`,
      "",
    ].join("\n"),
  );
  const daemon: ChildProcess = spawn("containerd", ["--config", config], { stdio: "ignore" });
  await waitFor(
    "containerd to answer",
    async () => (await command("ctr", ["--address", socket, "version"], 5_000)).code === 0,
    { failIf: () => childExited(daemon, "containerd") },
  );
  return {
    socket,
    pull: (reference, user, args = []) =>
      command("ctr", [
        ...["--address", socket, "-n", "nixery-test", "images", "pull", "--plain-http"],
        ...(user ? ["--user", user] : []),
        ...args,
        reference,
      ]),
    ctr: (args) => command("ctr", ["--address", socket, "-n", "nixery-test", ...args]),
    run: (reference, args) =>
      command(
        "ctr",
        [
          ...["--address", socket, "-n", "nixery-test", "run", "--rm"],
          reference,
          `nixery-test-${randomUUID().slice(0, 8)}`,
          ...args,
        ],
        60_000,
      ),
    async stop() {
      const exited = new Promise((resolve) => daemon.once("exit", resolve));
      daemon.kill("SIGTERM");
      await exited;
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}

export interface Podman {
  run(args: string[]): Promise<CommandResult>;
  /** The environment that points podman at this private configuration (for scripts). */
  readonly env: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
}

/**
 * podman with private configuration, storage (vfs, runc, cgroupfs) and login file, so nothing
 * global changes.
 */
export async function privatePodman(): Promise<Podman> {
  const dir = await mkdtemp(join(tmpdir(), "nixery-podman-"));
  const containersConf = join(dir, "containers.conf");
  const storageConf = join(dir, "storage.conf");
  const registriesConf = join(dir, "registries.conf");
  await writeFile(
    containersConf,
    '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' +
      `events_logfile_path = "${join(dir, "events.log")}"\n[containers]\nnetns = "none"\n`,
  );
  await writeFile(
    storageConf,
    `[storage]\ndriver = "vfs"\nrunroot = "${join(dir, "run")}"\ngraphroot = "${join(dir, "root")}"\n`,
  );
  // podman reads the login file on every pull, and fails if it is named but missing.
  await writeFile(join(dir, "auth.json"), '{"auths":{}}\n');
  await writeFile(
    registriesConf,
    'unqualified-search-registries = []\nshort-name-mode = "permissive"\n',
  );
  const env = {
    ...process.env,
    CONTAINERS_CONF: containersConf,
    CONTAINERS_STORAGE_CONF: storageConf,
    CONTAINERS_REGISTRIES_CONF: registriesConf,
    // `podman login` keeps credentials here, not in the machine's /run/containers/0/auth.json.
    REGISTRY_AUTH_FILE: join(dir, "auth.json"),
  };
  return {
    env,
    async run(args) {
      try {
        const { stdout, stderr } = await run("podman", args, {
          env,
          timeout: 180_000,
          maxBuffer: 64 << 20,
        });
        return { stdout, stderr, code: 0 };
      } catch (error) {
        const failure = error as { stdout?: string; stderr?: string; code?: number };
        return {
          stdout: failure.stdout ?? "",
          stderr: failure.stderr ?? String(error),
          code: failure.code ?? 1,
        };
      }
    },
    async cleanup() {
      await run("podman", ["system", "reset", "--force"], { env }).catch(() => undefined);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}
