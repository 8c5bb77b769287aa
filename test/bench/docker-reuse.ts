// The layer reuse benchmark checked with a real client: the same sequence pulled by dockerd
// (Debian's docker.io, 20.10), run privately (own data root, exec root, pid file and unix socket
// under a temporary directory, no bridge, no iptables, the origin as a plain-HTTP insecure
// registry), through a proxy that counts the layer bytes it serves; beside what the chain-ID client
// of layer-reuse.ts predicts for the same images. Needs root and dockerd on PATH; part of
// `npm run bench` when both are there, or run alone with `npx tsx test/bench/docker-reuse.ts`.

import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ChainIdClient } from "../support/chain-client.ts";
import { dockerAvailable, startDockerd, type Dockerd } from "../support/dockerd.ts";
import { startOrigin } from "../support/origin-process.ts";
import { imageLayers } from "../support/image-layers.ts";
import { reuseSequence } from "./layer-reuse.ts";

export interface DockerReuseStep {
  image: string;
  /** Layer bytes the proxy served to dockerd during the pull. */
  dockerDownloaded: number;
  /** What the chain-ID client predicts. */
  predicted: number;
  /** Bytes of layers dockerd held under no chain before the pull. */
  missing: number;
}

export interface DockerReuseResult {
  dockerVersion: string;
  steps: DockerReuseStep[];
  dockerDownloaded: number;
  missing: number;
  ratio: number;
}

/** An HTTP proxy to `target` that adds up the body bytes of every blob it serves, by digest. */
async function startCountingProxy(target: string) {
  const { hostname, port } = new URL(target);
  const served = new Map<string, number>();
  const server: Server = createServer((incoming, outgoing) => {
    const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(incoming.url ?? "")?.[1];
    const upstream = request(
      { hostname, port, method: incoming.method, path: incoming.url, headers: incoming.headers },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        response.on("data", (chunk: Buffer) => {
          if (digest) served.set(digest, (served.get(digest) ?? 0) + chunk.length);
        });
        response.pipe(outgoing);
      },
    );
    upstream.on("error", () => outgoing.destroy());
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const proxyPort = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${proxyPort}`,
    served,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function runDockerReuseBench(sequence = reuseSequence): Promise<DockerReuseResult> {
  const origin = await startOrigin();
  const proxy = await startCountingProxy(origin.url);
  let dockerd: Dockerd | null = null;
  try {
    dockerd = await startDockerd([proxy.host]);
    const client = new ChainIdClient();
    const steps: DockerReuseStep[] = [];
    for (const image of sequence) {
      // Build first and read the layers straight from the origin (not through the proxy).
      const layers = await imageLayers(origin.url, image);
      const cost = client.pull(layers);
      proxy.served.clear();
      const pull = await dockerd.docker("pull", "--quiet", `${proxy.host}/${image}:latest`);
      if (pull.code !== 0) throw new Error(`docker pull ${image} failed: ${pull.stderr}`);
      const dockerDownloaded = layers.reduce(
        (sum, l) => sum + (proxy.served.get(l.digest) ?? 0),
        0,
      );
      steps.push({ image, dockerDownloaded, predicted: cost.downloaded, missing: cost.missing });
    }
    const dockerDownloaded = steps.reduce((sum, step) => sum + step.dockerDownloaded, 0);
    const missing = steps.reduce((sum, step) => sum + step.missing, 0);
    return {
      dockerVersion: dockerd.version,
      steps,
      dockerDownloaded,
      missing,
      ratio: dockerDownloaded / missing,
    };
  } finally {
    await dockerd?.stop();
    await proxy.stop();
    await origin.stop();
  }
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

export function formatDockerReuseBench(result: DockerReuseResult): string {
  const lines = [
    `layer reuse, docker ${result.dockerVersion}                         docker MB   predicted MB   not had MB`,
  ];
  for (const step of result.steps) {
    lines.push(
      `${step.image.padEnd(48)} ${mb(step.dockerDownloaded).padStart(9)}   ${mb(step.predicted).padStart(12)}   ${mb(step.missing).padStart(10)}`,
    );
  }
  lines.push(
    `${"sequence".padEnd(48)} ${mb(result.dockerDownloaded).padStart(9)}   ${"".padStart(12)}   ${mb(result.missing).padStart(10)}   ${result.ratio.toFixed(3)}× (goal ≤ 1.05×)`,
  );
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (!(await dockerAvailable())) {
    console.error("needs root and dockerd (apt-get install docker.io)");
    process.exit(1);
  }
  console.log(formatDockerReuseBench(await runDockerReuseBench()));
}
