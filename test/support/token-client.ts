// A registry client of a private edge for tests: one client address (CF-Connecting-IP, as
// Cloudflare sets it), logins at the token endpoint, and manifest pulls with a token.

import assert from "node:assert/strict";

/** What the client talks to: an edge in workerd (test/support/edge-worker.ts, workerd-edge.ts). */
export interface EdgeFetch {
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export const dockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

export const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

export function tokenClient(edge: EdgeFetch, address: string) {
  const send = (path: string, headers: Record<string, string> = {}) =>
    edge.fetch(path, { headers: { "CF-Connecting-IP": address, ...headers } });
  return {
    send,
    /** Asks the token endpoint; `user` null: anonymously. */
    token: (user: string | null, password: string, scope: string) =>
      send(
        `/auth/token?service=nixery&scope=${encodeURIComponent(scope)}`,
        user === null ? {} : { Authorization: basic(user, password) },
      ),
    /** A pull token for `name`; fails the test unless one is issued. */
    async login(user: string | null, password: string, name: string): Promise<string> {
      const response = await this.token(user, password, `repository:${name}:pull`);
      const text = await response.text();
      assert.equal(response.status, 200, text);
      return (JSON.parse(text) as { token: string }).token;
    },
    manifest: (name: string, token: string | null) =>
      send(`/v2/${name}/manifests/latest`, {
        Accept: dockerManifest,
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      }),
  };
}
