// CPU time of another process, from Linux's /proc, for benchmarks that time a server they started.

import { readFile } from "node:fs/promises";

/** Seconds of CPU of process `pid` and of the children it waited for (utime, stime, cutime, cstime). */
export async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // The command name in parentheses may hold spaces and parentheses: fields start after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields.slice(11, 15).reduce((sum, ticks) => sum + Number(ticks), 0) / 100;
}
