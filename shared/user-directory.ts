// The users of a private instance and the one way a password is checked. An unknown user's
// password is compared against a dummy hash of the file's usual cost, so that "no such user" and
// "wrong password" take the same time and answer the same 401. The bcrypt calls come from each
// app (bcryptjs), passed in as a PasswordHasher; this file stays runtime-neutral.

import { dummyCost, maxUserLength, parseHtpasswd, type HtpasswdEntry } from "./htpasswd.ts";

export interface PasswordHasher {
  compare(password: string, hash: string): Promise<boolean>;
  /** bcrypt of `password` under a given salt (`$2y$NN$` and 22 characters): no randomness. */
  hashWithSalt(password: string, salt: string): Promise<string>;
}

/** A fixed salt: the dummy hash only has to cost what a real one costs. */
function dummySalt(cost: number): string {
  return `$2y$${String(cost).padStart(2, "0")}$nixeryedgedummysaltxxx`;
}

async function fingerprint(hash: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(hash));
  return [...new Uint8Array(digest).slice(0, 12)]
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

export class UserDirectory {
  readonly #users: Map<string, HtpasswdEntry>;
  readonly #dummyHash: string;
  readonly #hasher: PasswordHasher;
  /** True when entries use different bcrypt costs (their checks then take different times). */
  readonly mixedCosts: boolean;

  private constructor(
    entries: HtpasswdEntry[],
    dummyHash: string,
    hasher: PasswordHasher,
    mixed: boolean,
  ) {
    this.#users = new Map(entries.map((entry) => [entry.user, entry]));
    this.#dummyHash = dummyHash;
    this.#hasher = hasher;
    this.mixedCosts = mixed;
  }

  /** Reads an htpasswd file's text; throws HtpasswdInvalid for a bad line. */
  static async fromHtpasswd(text: string, hasher: PasswordHasher): Promise<UserDirectory> {
    const entries = parseHtpasswd(text);
    const { cost, mixedCosts } = dummyCost(entries);
    const dummyHash = await hasher.hashWithSalt("no such user", dummySalt(cost));
    return new UserDirectory(entries, dummyHash, hasher, mixedCosts);
  }

  get size(): number {
    return this.#users.size;
  }

  /**
   * The version of the user's entry when the password is right; null when it is wrong or the
   * user is unknown (which takes as long).
   */
  async authenticate(user: string, password: string): Promise<string | null> {
    const entry = user.length <= maxUserLength ? this.#users.get(user) : undefined;
    const matches = await this.#hasher.compare(password, entry?.hash ?? this.#dummyHash);
    return entry && matches ? fingerprint(entry.hash) : null;
  }

  /** The version of a user's entry (it changes with the password); null for an unknown user. */
  async version(user: string): Promise<string | null> {
    const entry = this.#users.get(user);
    return entry ? fingerprint(entry.hash) : null;
  }
}
