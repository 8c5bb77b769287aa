// The path and query of a request, read without trusting its authority. A request's URL is
// built from the client's Host header, which the WHATWG URL parser may refuse (`a.1`,
// `999.1.1.1`, `1.2.3.4.5`, `09.1` are valid HTTP hosts but invalid URL hosts), so routing never
// parses the host: the authority is cut off and the rest is parsed under a fixed base.

import { RegistryError } from "./errors.ts";

export interface RequestTarget {
  pathname: string;
  searchParams: URLSearchParams;
  /** `scheme://host` as the client spelled it (not validated; for display and cache keys only). */
  origin: string;
}

const fixedBase = "http://registry.invalid";
const authorityPattern = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*)/;

/** Splits a request URL into an unparsed origin and a parsed path and query. */
export function requestTarget(url: string): RequestTarget {
  const authority = authorityPattern.exec(url)?.[1] ?? "";
  const rest = url.slice(authority.length);
  // `rest` starts with "/", "?" or "#" (or is empty), so it cannot change the fixed base's host.
  const safeRest = rest === "" || /^[/?#]/.test(rest) ? rest : `/${rest}`;
  let parsed: URL;
  try {
    parsed = new URL(`${fixedBase}${safeRest}`);
  } catch {
    throw new RegistryError("BAD_REQUEST", "the request target is not a valid path");
  }
  return { pathname: parsed.pathname, searchParams: parsed.searchParams, origin: authority };
}

/** The host part of a request URL as sent (may be anything the client wrote in Host). */
export function requestHost(url: string): string {
  return requestTarget(url).origin.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//, "");
}
