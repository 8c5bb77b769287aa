// Where a request to the local front goes: its request target and Host, checked as RFC 9112 asks
// (one Host; a valid Host value; absolute-form targets carry their own authority; `*` only for
// OPTIONS) and turned into the origin-form path and a Host that workerd's URL parser accepts.
// Valid HTTP hosts that are no valid URL host (`a.1`, `999.1.1.1`, `example.com:99999`) are
// replaced by the front's own address: the Worker never sees a URL it cannot parse.

import { RegistryError } from "../../shared/errors.ts";

export type ForwardTarget = { kind: "origin"; path: string; host: string } | { kind: "asterisk" };

export interface RequestLine {
  method: string;
  url: string;
  httpVersion: string;
  /** Alternating names and values, as received. */
  rawHeaders: readonly string[];
}

// RFC 3986 host: IP-literal or reg-name (unreserved, pct-encoded, sub-delims), optional port.
const hostPattern =
  /^(?:\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?$/;

function badRequest(message: string): RegistryError {
  return new RegistryError("BAD_REQUEST", message);
}

function show(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

/** The host to forward: the client's when a URL can hold it, else the front's own. */
export function urlSafeHost(host: string, ownHost: string): string {
  if (host === "") return ownHost;
  try {
    return new URL(`http://${host}/`).host === "" ? ownHost : host;
  } catch {
    return ownHost;
  }
}

export function forwardedTarget(request: RequestLine, ownHost: string): ForwardTarget {
  const hosts: string[] = [];
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    if (request.rawHeaders[i]!.toLowerCase() === "host") hosts.push(request.rawHeaders[i + 1]!);
  }
  if (hosts.length > 1) throw badRequest("the request has more than one Host header field");
  const host = hosts[0]?.trim();
  if (host !== undefined && !hostPattern.test(host)) {
    throw badRequest(`the Host header ${show(host)} is not a valid host`);
  }
  const { url } = request;
  if (url === "*") {
    if (request.method === "OPTIONS") return { kind: "asterisk" };
    throw badRequest(`the request target "*" is only for OPTIONS, not ${request.method}`);
  }
  const absolute = /^(https?):\/\/([^/?#]*)(.*)$/i.exec(url);
  if (absolute) {
    // RFC 9112 §3.2.2: the target's authority replaces Host.
    const authority = absolute[2]!;
    if (authority === "" || authority.includes("@") || !hostPattern.test(authority)) {
      throw badRequest(`the request target ${show(url)} has no valid host`);
    }
    const rest = absolute[3]!;
    const path = rest.startsWith("/") ? rest : `/${rest}`;
    return { kind: "origin", path, host: urlSafeHost(authority, ownHost) };
  }
  if (!url.startsWith("/")) {
    throw badRequest(`the request target ${show(url)} is neither a path nor an absolute URL`);
  }
  if (host === undefined && request.httpVersion !== "1.0") {
    throw badRequest("an HTTP/1.1 request needs a Host header field");
  }
  return { kind: "origin", path: url, host: urlSafeHost(host ?? "", ownHost) };
}
