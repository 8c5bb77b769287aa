// Edge memory under warm load: 100,000 warm requests (manifests by tag and by digest, and blob
// GETs, mixed, over several connections from wrk) through the edge Worker in workerd, as the
// local stack runs it (stack/edge-runtime.ts), in front of a real origin serving one small image.
// At the start, the middle and the end it reads the Worker's JS heap (workerd's inspector:
// Runtime.getHeapUsage after a full collection) and workerd's resident memory (/proc); the same
// load on a Worker that answers a constant, in the same run, is the baseline. Goal: a flat heap.

import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mediaTypes } from "../../shared/media-types.ts";
import { startEdgeRuntime, type EdgeRuntimeOptions } from "../../stack/edge-runtime.ts";
import { command } from "../support/clients.ts";
import { openInspector, workerTarget } from "../support/inspector.ts";
import { startOrigin } from "../support/origin-process.ts";

const image = "hello";
const workerName = "nixery-edge";
const connections = 8;
const threads = 2;
const idleMs = 10_000;
/** wrk runs for a duration: rounds this long until the count is reached. */
const roundSeconds = 5;
const accept = [mediaTypes.dockerManifest, mediaTypes.ociManifest].join(", ");

/** A Worker that answers every request with the same few bytes: what workerd itself costs. */
const constantWorker = `export default {
  fetch() {
    return new Response("constant", { headers: { "Content-Type": "text/plain" } });
  },
};`;

export interface MemorySample {
  /** Requests sent so far. */
  requests: number;
  /** The Worker's live JS heap after a full collection, in bytes. */
  heapBytes: number;
  /** workerd's resident set, in bytes. */
  rssBytes: number;
}

export interface EdgeMemoryTarget {
  target: string;
  /** At the start, the middle and the end. */
  samples: MemorySample[];
  /** After the load, once idle for idleMs. */
  idle: MemorySample;
  requestsPerSecond: number;
}

export interface EdgeMemoryResult {
  requests: number;
  mix: string;
  connections: number;
  constant: EdgeMemoryTarget;
  edge: EdgeMemoryTarget;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** PIDs of workerd processes this process started. */
async function workerdChildren(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // pid (comm) state ppid …; comm may hold spaces, so split after its closing parenthesis.
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const ppid = Number(stat.slice(close + 2).split(" ")[1]);
    if (comm === "workerd" && ppid === process.pid) pids.push(Number(entry));
  }
  return pids;
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for workerd ${pid}`);
  return Number(kb) * 1024;
}

/** A wrk script that cycles through `paths`, each connection starting at its own place. */
function wrkScript(paths: string[]): string {
  return `local paths = { ${paths.map((p) => JSON.stringify(p)).join(", ")} }
local cursor = math.random(#paths)
request = function()
  cursor = cursor % #paths + 1
  return wrk.format("GET", paths[cursor], { ["Accept"] = ${JSON.stringify(accept)} })
end
`;
}

/** One round of wrk (wrk runs for a duration, not a count); how many requests, how fast. */
async function loadRound(base: string, script: string): Promise<{ requests: number; rps: number }> {
  const result = await command("wrk", [
    `-t${threads}`,
    `-c${connections}`,
    `-d${roundSeconds}s`,
    "-s",
    script,
    base,
  ]);
  if (result.code !== 0) throw new Error(`wrk failed: ${result.stderr}`);
  const requests = Number(/(\d+) requests in/.exec(result.stdout)?.[1] ?? NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(result.stdout)?.[1] ?? NaN);
  const bad = /Non-2xx or 3xx responses: (\d+)/.exec(result.stdout)?.[1];
  const errors = /Socket errors: (.*)/.exec(result.stdout)?.[1];
  if (bad || errors) throw new Error(`wrk saw failures (${bad ?? 0} non-2xx; ${errors ?? ""})`);
  if (!(requests > 0)) throw new Error(`wrk sent no requests: ${result.stdout}`);
  return { requests, rps };
}

async function measureTarget(
  target: string,
  options: EdgeRuntimeOptions,
  paths: string[],
  total: number,
  dir: string,
  snapshotDir: string | null,
): Promise<EdgeMemoryTarget> {
  const before = new Set(await workerdChildren());
  const runtime = await startEdgeRuntime({ ...options, port: 0, inspectorPort: 0 });
  try {
    const pid = (await workerdChildren()).find((p) => !before.has(p));
    if (!pid) throw new Error("cannot find the workerd process Miniflare started");
    const inspector = await openInspector(runtime.inspector!, workerTarget(workerName));
    const base = runtime.url!.toString().replace(/\/$/, "");
    try {
      // Warm every cache on the way (Cache API, KV, R2) twice before the first sample.
      for (let round = 0; round < 2; round++) {
        for (const path of paths) {
          const response = await fetch(`${base}${path}`, { headers: { Accept: accept } });
          await response.arrayBuffer();
          if (!response.ok) throw new Error(`${target}: ${path} answered ${response.status}`);
        }
      }
      const sample = async (requests: number): Promise<MemorySample> => ({
        requests,
        heapBytes: (await inspector.heapUsage()).usedSize,
        rssBytes: await rssOf(pid),
      });
      const script = join(dir, `${target.replace(/\W+/g, "-")}.lua`);
      await writeFile(script, wrkScript(paths));
      const snapshot = async (stage: string) => {
        if (!snapshotDir) return;
        const file = join(snapshotDir, `${target.replace(/\W+/g, "-")}-${stage}.heapsnapshot`);
        await writeFile(file, await inspector.heapSnapshot());
      };
      const samples = [await sample(0)];
      await snapshot("start");
      let sent = 0;
      const rates: number[] = [];
      while (sent < total) {
        const { requests, rps } = await loadRound(base, script);
        sent += requests;
        rates.push(rps);
        if (samples.length === 1 && sent >= total / 2) samples.push(await sample(sent));
      }
      samples.push(await sample(sent));
      await snapshot("end");
      // Whatever workerd still holds once the load has gone.
      await new Promise((resolve) => setTimeout(resolve, idleMs));
      const idle = await sample(sent);
      return { target, samples, idle, requestsPerSecond: median(rates) };
    } finally {
      inspector.close();
    }
  } finally {
    await runtime.stop();
  }
}

export interface EdgeMemoryOptions {
  /** Requests per Worker (default 100,000). */
  total?: number;
  /** Which requests: manifests and blobs mixed (default), or only one kind (to bisect). */
  mix?: "mixed" | "manifests" | "blobs";
  /** Writes heap snapshots of each Worker at the start and the end here (for DevTools). */
  snapshotDir?: string;
}

export async function runEdgeMemoryBench(
  options: EdgeMemoryOptions = {},
): Promise<EdgeMemoryResult> {
  const total = options.total ?? 100_000;
  const mix = options.mix ?? "mixed";
  const dir = await mkdtemp(join(tmpdir(), "nixery-edge-memory-"));
  const origin = await startOrigin();
  try {
    const tag = await fetch(`${origin.url}/v2/${image}/manifests/latest`, {
      headers: { Accept: mediaTypes.dockerManifest },
    });
    if (!tag.ok) throw new Error(`the origin did not build ${image}: ${tag.status}`);
    const digest = tag.headers.get("docker-content-digest")!;
    const manifest = (await tag.json()) as {
      config: { digest: string };
      layers: { digest: string }[];
    };
    const manifests = [`/v2/${image}/manifests/latest`, `/v2/${image}/manifests/${digest}`];
    const blobs = [manifest.config.digest, ...manifest.layers.map((layer) => layer.digest)].map(
      (blob) => `/v2/${image}/blobs/${blob}`,
    );
    const paths =
      mix === "manifests"
        ? manifests
        : mix === "blobs"
          ? blobs
          : blobs.flatMap((blob, i) => [manifests[i % 2]!, blob]);
    const quiet = { onLogLine: () => {} };
    const constant = await measureTarget(
      "constant Worker",
      { originUrl: origin.url, script: constantWorker, ...quiet },
      paths,
      total,
      dir,
      options.snapshotDir ?? null,
    );
    const edge = await measureTarget(
      "edge Worker",
      { originUrl: origin.url, persistDir: join(dir, "edge"), ...quiet },
      paths,
      total,
      dir,
      options.snapshotDir ?? null,
    );
    return { requests: total, mix, connections, constant, edge };
  } finally {
    await origin.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatEdgeMemoryBench(result: EdgeMemoryResult): string {
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  const cell = (sample: MemorySample) =>
    `${mb(sample.heapBytes)} / ${mb(sample.rssBytes)} (${Math.round(sample.requests / 1000)}k)`;
  const { constant, edge } = result;
  const row = (label: string, a: string, b: string) => `${label.padEnd(10)} ${a.padEnd(32)} ${b}`;
  const lines = [
    `edge memory: ${result.requests} warm requests (${result.mix}, ${result.connections} connections); JS heap / workerd RSS (requests so far)`,
    row("", constant.target, edge.target),
  ];
  ["start", "middle", "end"].forEach((stage, i) => {
    lines.push(row(stage, cell(constant.samples[i]!), cell(edge.samples[i]!)));
  });
  lines.push(row(`idle ${idleMs / 1000} s`, cell(constant.idle), cell(edge.idle)));
  lines.push(
    row(
      "req/s",
      constant.requestsPerSecond.toFixed(0),
      `${edge.requestsPerSecond.toFixed(0)} (${(edge.requestsPerSecond / constant.requestsPerSecond).toFixed(2)}×)`,
    ),
  );
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // [requests] [mixed|manifests|blobs] [heap snapshot directory]
  const [total, mix, snapshotDir] = process.argv.slice(2);
  const result = await runEdgeMemoryBench({
    total: total ? Number(total) : undefined,
    mix: mix as EdgeMemoryOptions["mix"],
    snapshotDir,
  });
  console.log(formatEdgeMemoryBench(result));
  console.log(JSON.stringify(result));
}
