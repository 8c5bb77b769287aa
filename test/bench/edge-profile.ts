// Where the edge's Worker spends its CPU on a warm path: a CPU profile of the Worker's isolate in
// workerd (its inspector's Profiler) while wrk sends warm requests through the edge for a few
// seconds, summed by function, self and inclusive time, and written out for DevTools.
//   npx tsx test/bench/edge-profile.ts [manifests|blobs] [seconds, default 6] [profile file]

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { mediaTypes } from "../../shared/media-types.ts";
import { startEdgeRuntime } from "../../stack/edge-runtime.ts";
import { command } from "../support/clients.ts";
import { openInspector, workerTarget } from "../support/inspector.ts";
import { startOrigin } from "../support/origin-process.ts";

const image = "hello";
const accept = [mediaTypes.dockerManifest, mediaTypes.ociManifest].join(", ");

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface EdgeProfile {
  requests: number;
  requestsPerSecond: number;
  /** Seconds sampled, and how many of them the isolate was idle. */
  seconds: number;
  idleSeconds: number;
  /** Top functions by time including what they call, and by their own time. */
  inclusive: [string, number][];
  self: [string, number][];
  profile: CpuProfile;
}

export async function runEdgeProfile(
  kind: "manifests" | "blobs",
  seconds: number,
): Promise<EdgeProfile> {
  const dir = await mkdtemp(join(tmpdir(), "nixery-edge-profile-"));
  const origin = await startOrigin();
  try {
    const tag = await fetch(`${origin.url}/v2/${image}/manifests/latest`, {
      headers: { Accept: mediaTypes.dockerManifest },
    });
    if (!tag.ok) throw new Error(`the origin did not build ${image}: ${tag.status}`);
    const manifest = (await tag.json()) as { layers: { digest: string }[] };
    const path =
      kind === "manifests"
        ? `/v2/${image}/manifests/latest`
        : `/v2/${image}/blobs/${manifest.layers[0]!.digest}`;
    const runtime = await startEdgeRuntime({
      originUrl: origin.url,
      persistDir: join(dir, "edge"),
      port: 0,
      inspectorPort: 0,
      onLogLine: () => {},
    });
    try {
      const base = runtime.url!.toString().replace(/\/$/, "");
      // Warm every cache on the way (Cache API, KV, R2).
      for (let round = 0; round < 3; round++) {
        const response = await fetch(`${base}${path}`, { headers: { Accept: accept } });
        await response.arrayBuffer();
        if (!response.ok) throw new Error(`${path} answered ${response.status}`);
      }
      const inspector = await openInspector(runtime.inspector!, workerTarget("nixery-edge"));
      try {
        await inspector.call("Profiler.enable");
        await inspector.call("Profiler.setSamplingInterval", { interval: 200 });
        await inspector.call("Profiler.start");
        const script = join(dir, "accept.lua");
        await writeFile(script, `wrk.headers["Accept"] = "${accept}"\n`);
        const load = await command("wrk", [
          "-t2",
          "-c8",
          `-d${seconds}s`,
          "-s",
          script,
          `${base}${path}`,
        ]);
        const { profile } = await inspector.call<{ profile: CpuProfile }>("Profiler.stop");
        if (load.code !== 0) throw new Error(`wrk failed: ${load.stderr}`);
        const requests = Number(/(\d+) requests in/.exec(load.stdout)?.[1] ?? NaN);
        const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(load.stdout)?.[1] ?? NaN);
        return { requests, requestsPerSecond: rps, ...summarise(profile), profile };
      } finally {
        inspector.close();
      }
    } finally {
      await runtime.stop();
    }
  } finally {
    await origin.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function summarise(profile: CpuProfile) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const name = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.split("/").at(-1);
    return `${functionName || "(anonymous)"}${file ? ` ${file}:${lineNumber + 1}` : ""}`;
  };
  const selfById = new Map<number, number>();
  profile.samples.forEach((id, i) =>
    selfById.set(id, (selfById.get(id) ?? 0) + profile.timeDeltas[i]!),
  );
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, micros] of selfById) {
    const own = name(nodes.get(id)!);
    self.set(own, (self.get(own) ?? 0) + micros);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const label = name(nodes.get(at)!);
      if (seen.has(label)) continue;
      seen.add(label);
      inclusive.set(label, (inclusive.get(label) ?? 0) + micros);
    }
  }
  const top = (map: Map<string, number>) =>
    [...map]
      .filter(([label]) => label !== "(root)" && label !== "(idle)")
      .sort((a, b) => b[1] - a[1])
      .slice(0, 25)
      .map(([label, micros]) => [label, micros / 1e6] as [string, number]);
  const total = profile.timeDeltas.reduce((sum, delta) => sum + delta, 0) / 1e6;
  return {
    seconds: total,
    idleSeconds: (self.get("(idle)") ?? 0) / 1e6,
    inclusive: top(inclusive),
    self: top(self),
  };
}

export function formatEdgeProfile(kind: string, r: EdgeProfile): string {
  const busy = r.seconds - r.idleSeconds;
  const perRequest = (s: number) => `${Math.round((s / r.requests) * 1e6)} µs/request`;
  const rows = (list: [string, number][]) =>
    list.map(
      ([label, s]) =>
        `  ${s.toFixed(2).padStart(6)} s ${((s / busy) * 100).toFixed(1).padStart(5)} %  ${label}`,
    );
  return [
    `edge profile, warm ${kind}: ${r.requests} requests at ${r.requestsPerSecond} req/s; the Worker's ` +
      `isolate busy ${busy.toFixed(2)} of ${r.seconds.toFixed(2)} s (${perRequest(busy)})`,
    "including what they call (% of busy time):",
    ...rows(r.inclusive),
    "own time:",
    ...rows(r.self),
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const kind = process.argv[2] === "blobs" ? "blobs" : "manifests";
  const result = await runEdgeProfile(kind, Number(process.argv[3] ?? 6));
  console.log(formatEdgeProfile(kind, result));
  const file = process.argv[4] ?? join(tmpdir(), `edge-${kind}.cpuprofile`);
  await writeFile(file, JSON.stringify(result.profile));
  console.log(`profile written to ${file} (open it in Chrome's DevTools, Performance tab)`);
}
