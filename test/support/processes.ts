// The processes a test started, found by walking the process tree (ps), so that what other test
// runs on the same machine started is never counted.

import { execFile } from "node:child_process";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** The pids of processes below `root` (at any depth) whose command line is exactly `args`. */
export async function processesUnder(root: number, args: string): Promise<number[]> {
  const rows = (await exec("ps", ["-eo", "pid=,ppid=,args="])).stdout
    .split("\n")
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((match) => match !== null)
    .map((match) => ({ pid: Number(match[1]), ppid: Number(match[2]), args: match[3]!.trim() }));
  const tree = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const row of rows) {
      if (tree.has(row.ppid) && !tree.has(row.pid)) {
        tree.add(row.pid);
        grew = true;
      }
    }
  }
  return rows.filter((row) => tree.has(row.pid) && row.args === args).map((row) => row.pid);
}

/** Those of `pids` still running `args` (a zombie awaiting its reaper does not count). */
export async function stillRunning(pids: readonly number[], args: string): Promise<number[]> {
  const rows = (await exec("ps", ["-eo", "pid=,args="])).stdout.split("\n");
  return pids.filter((pid) =>
    rows.some((row) => {
      const match = /^\s*(\d+)\s+(.*)$/.exec(row.trimEnd());
      return match !== null && Number(match[1]) === pid && match[2] === args;
    }),
  );
}
