// The pull commands a page offers, written for the instance the browser is talking to: its host
// as the browser spelled it and, over plain HTTP, each client's flag for a registry without TLS
// (copied from a page, a command must work as pasted).

export interface Endpoint {
  /** host[:port] as the client wrote it. */
  host: string;
  /** False when the request came over plain HTTP. */
  tls: boolean;
}

export interface PullCommand {
  client: string;
  command: string;
  /** What else the client needs (plain HTTP), or null. */
  note: string | null;
}

/** The request's endpoint; `X-Forwarded-Proto: https` from a TLS proxy in front counts as TLS. */
export function endpointOf(url: string, forwardedProto: string | null): Endpoint {
  const match = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)/.exec(url);
  const scheme = (match?.[1] ?? "http").toLowerCase();
  const host = (match?.[2] ?? "localhost").replace(/^[^@]*@/, "");
  return { host, tls: scheme === "https" || forwardedProto?.trim().toLowerCase() === "https" };
}

/** `name` is an image name, `tag` its tag; the reference is HOST/name:tag. */
export function pullCommands(endpoint: Endpoint, name: string, tag = "latest"): PullCommand[] {
  const ref = `${endpoint.host}/${name}:${tag}`;
  const plain = !endpoint.tls;
  const loopback = /^(127\.|localhost(:|$)|\[::1\])/.test(endpoint.host);
  const directory = name.replace(/[^a-z0-9._-]+/g, "-");
  return [
    {
      client: "docker",
      command: `docker pull ${ref}`,
      note:
        plain && !loopback
          ? `Docker talks plain HTTP only to registries listed in /etc/docker/daemon.json: {"insecure-registries": ["${endpoint.host}"]}, then restart dockerd.`
          : null,
    },
    {
      client: "podman",
      command: `podman pull ${plain ? "--tls-verify=false " : ""}${ref}`,
      note: null,
    },
    {
      client: "skopeo",
      command: `skopeo copy ${plain ? "--src-tls-verify=false " : ""}docker://${ref} oci:${directory}:${tag}`,
      note: null,
    },
    {
      client: "containerd",
      command: `ctr images pull ${plain ? "--plain-http " : ""}${ref}`,
      note: null,
    },
    {
      client: "nerdctl",
      command: `nerdctl pull ${plain ? "--insecure-registry " : ""}${ref}`,
      note: null,
    },
    {
      client: "kubernetes",
      command: `kubectl run ${podName(name)} --image=${ref} --restart=Never`,
      note: plain
        ? `The nodes' containerd must reach ${endpoint.host} over plain HTTP: /etc/containerd/certs.d/${endpoint.host}/hosts.toml with server = "http://${endpoint.host}".`
        : null,
    },
  ];
}

/** A Kubernetes object name for the image: lowercase letters, digits and inner dashes. */
function podName(name: string): string {
  const base = name
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 50)
    .replace(/-+$/, "");
  return base || "image";
}
