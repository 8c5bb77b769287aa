// The token scope grammar of Docker's token authentication (distribution's spec/auth/scope.md):
// `type[(class)]:name:action[,action]`, several separated by spaces. A name may hold one `:` (a
// host with a port), so the type ends at the first colon and the actions start after the last.
// This registry grants one action, `pull`, on `repository` resources.

import { maxNameLength } from "./image-name.ts";

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

const typePattern = /^[a-z0-9]+(?:\([a-z0-9]+\))?$/;
const actionPattern = /^[a-z*]*$/;
/** Scope names as the grammar has them: an optional host, then path components. */
const namePattern =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[_.]|__|-*)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[_.]|__|-*)[a-z0-9]+)*)*$/;

/** The actions this registry can grant; anything else asked for is left out of the token. */
export const grantableActions = ["pull"] as const;

/** One `type:name:actions` entry, or null when it does not follow the grammar. */
export function parseResourceScope(text: string): Access | null {
  const first = text.indexOf(":");
  const last = text.lastIndexOf(":");
  if (first <= 0 || last === first) return null;
  // A resource class (`repository(plugin)`) is deprecated and means the same as its type.
  const type = text.slice(0, first).replace(/\(.*\)$/, "");
  const name = text.slice(first + 1, last);
  const actions = text.slice(last + 1).split(",");
  if (!typePattern.test(text.slice(0, first))) return null;
  if (name.length === 0 || name.length > maxNameLength || !namePattern.test(name)) return null;
  if (!actions.every((action) => actionPattern.test(action))) return null;
  return { type, name, actions: [...new Set(actions.filter((action) => action !== ""))] };
}

/**
 * Every scope of a token request: repeated `scope` parameters (GET), each of which may list
 * several separated by spaces (POST). Entries that do not follow the grammar are dropped: the
 * token server grants what it can and never fails a request for asking too much.
 */
export function parseScopes(values: readonly string[]): Access[] {
  const merged = new Map<string, Access>();
  for (const value of values) {
    for (const text of value.split(" ")) {
      if (text === "") continue;
      const access = parseResourceScope(text);
      if (!access) continue;
      const key = `${access.type}:${access.name}`;
      const known = merged.get(key);
      if (known) known.actions = [...new Set([...known.actions, ...access.actions])];
      else merged.set(key, access);
    }
  }
  return [...merged.values()];
}

/** What a logged-in user is granted of what was asked: `pull` on repositories, nothing else. */
export function grantedAccess(requested: readonly Access[]): Access[] {
  return requested
    .filter((access) => access.type === "repository")
    .map((access) => ({
      type: access.type,
      name: access.name,
      actions: access.actions.filter((action) =>
        (grantableActions as readonly string[]).includes(action),
      ),
    }))
    .filter((access) => access.actions.length > 0);
}

/** `repository:NAME:pull` and friends, space-separated, as a challenge or an OAuth answer says it. */
export function formatScopes(accesses: readonly Access[]): string {
  return accesses
    .map((access) => `${access.type}:${access.name}:${access.actions.join(",")}`)
    .join(" ");
}

/** The access a pull of `name` needs. */
export function pullAccess(name: string): Access {
  return { type: "repository", name, actions: ["pull"] };
}

/** Whether `granted` covers `needed` (same type and name, every action). */
export function covers(granted: readonly Access[], needed: Access): boolean {
  return granted.some(
    (access) =>
      access.type === needed.type &&
      access.name === needed.name &&
      needed.actions.every((action) => access.actions.includes(action)),
  );
}
