// The packing benchmark's baseline: GNU tar piped into gzip(1), with its CPU time from bash's `times`.

import { spawn } from "node:child_process";

// `times` prints the shell's own CPU, then its children's: user and system, as `0m1.234s 0m0.056s`.
const baselineScript = `out=$1; shift
tar -C / --sort=name -cf - "$@" | gzip -6 > "$out" && sync "$out" && stat -c %s "$out" && times`;

/** `tar -c --sort=name … | gzip -6 > out`, fsynced like packLayer's output. */
export function baselinePack(
  paths: string[],
  destination: string,
): Promise<{ size: number; cpuSeconds: number }> {
  const relativePaths = paths.map((p) => p.slice(1));
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", baselineScript, "bash", destination, ...relativePaths], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`baseline exit ${code}`));
      const [size, , children] = stdout.trim().split("\n");
      const cpuSeconds = [...(children ?? "").matchAll(/(\d+)m([\d.]+)s/g)].reduce(
        (sum, m) => sum + Number(m[1]) * 60 + Number(m[2]),
        0,
      );
      resolve({ size: Number(size), cpuSeconds });
    });
  });
}
