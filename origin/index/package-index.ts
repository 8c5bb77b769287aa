// The package index service: which revision a tag names, whether that revision's index is built,
// and building it in the background (one revision at a time, never in the way of a pull: a
// request only starts the build and answers with what is known). A git or channel revision is
// indexed once and reused from SQLite by every later request and origin process; a local path
// (no revision) can change, so each origin process indexes it once afresh.

import type { Logger } from "../log.ts";
import type { NixRunner } from "../nix/runner.ts";
import type { ResolvedSource } from "../nix/source.ts";
import { buildIndex } from "./build-index.ts";
import { closestNames } from "./closest-names.ts";
import {
  imageComponent,
  queryWords,
  type IndexedPackage,
  type IndexState,
  type IndexStore,
  type RevisionRecord,
} from "./index-store.ts";

export interface PackageIndexDeps {
  store: IndexStore;
  runner: NixRunner;
  /** The revision a tag names (ImageService's memo, so pulls and the index agree). */
  resolve(tag: string): Promise<ResolvedSource>;
  system: string;
  log: Logger;
  chunkSize?: number;
  chunkTimeoutMs?: number;
  nixDir?: string;
  signal?: AbortSignal;
  now?: () => number;
}

export interface IndexView {
  /** The revision key the API shows: the commit or channel, or "local" for a path source. */
  revision: string;
  state: IndexState;
}

export interface PackageHints {
  /** Close names per requested name (names without any are left out). */
  suggestions: Record<string, string[]>;
  /** The index is still being built: names may yet be found once it is ready. */
  building: boolean;
}

/** The key of a path source, whose package set has no revision. */
export const localRevision = "local";

export class PackageIndex {
  readonly #deps: PackageIndexDeps;
  readonly #now: () => number;
  /** Revisions whose index this process has built or is building (or found stored and ready). */
  readonly #builds = new Map<string, Promise<void>>();
  #queue: Promise<void> = Promise.resolve();

  constructor(deps: PackageIndexDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** Resolves the tag and makes sure its revision's index exists or is being built. */
  async view(tag: string): Promise<IndexView> {
    const source = await this.#deps.resolve(tag);
    return this.viewOf(source);
  }

  /** As `view`, for a source already resolved (e.g. by a build). */
  viewOf(source: ResolvedSource): IndexView {
    const revision = source.revision ?? localRevision;
    this.#ensure(revision, source);
    return { revision, state: this.#deps.store.revision(revision)?.state ?? "building" };
  }

  /**
   * Starts indexing the revision `tag` names in the background (the origin calls it once at start,
   * without waiting, so that the first typo of a fresh origin finds close names). A source that
   * cannot be resolved now is skipped with one log line: the index is then built on demand.
   */
  async start(tag: string): Promise<IndexView | null> {
    try {
      return await this.view(tag);
    } catch (error) {
      if (!this.#deps.signal?.aborted) {
        this.#deps.log.info("package index not started", { tag, error: String(error) });
      }
      return null;
    }
  }

  /** Settles when every index build of this process has finished (or stopped). */
  async drain(): Promise<void> {
    await this.#queue;
  }

  /** Settles when the revision's index build started by this process has finished. */
  async settled(revision: string): Promise<void> {
    await this.#builds.get(revision);
  }

  record(revision: string): RevisionRecord | null {
    return this.#deps.store.revision(revision);
  }

  search(revision: string, q: string, limit: number): IndexedPackage[] {
    const words = queryWords(q);
    return this.#deps.store.search(revision, words, limit, q.trim().toLowerCase());
  }

  get(revision: string, attr: string): IndexedPackage | null {
    return this.#deps.store.get(revision, attr);
  }

  /**
   * The description of `attr` from the revision's index once it is ready (null before, so that a
   * page does not show descriptions of a half-built index as if the rest had none).
   */
  describe(revision: string | null, attr: string): string | null {
    const key = revision ?? localRevision;
    if (this.#deps.store.revision(key)?.state !== "ready") return null;
    return this.#deps.store.get(key, attr)?.description ?? null;
  }

  /** The closest image components of the revision to `name` (none while nothing is indexed). */
  suggest(revision: string, name: string, limit = 3): string[] {
    return closestNames(imageComponent(name), this.#deps.store.images(revision), limit);
  }

  /**
   * "Did you mean …?" for names a build did not find: the closest names of the source's index
   * (starting its build when there is none yet). While the index is being built the names come
   * from the rows indexed so far, and `building` says so, so that the user is told to ask again.
   */
  hints(source: ResolvedSource, names: readonly string[]): PackageHints {
    const { revision, state } = this.viewOf(source);
    const suggestions: Record<string, string[]> = {};
    for (const name of names) {
      const close = this.suggest(revision, name);
      if (close.length > 0) suggestions[name] = close;
    }
    return { suggestions, building: state === "building" };
  }

  /**
   * Why the index has no `name` although the package set may: the sub-set it lives in, or the
   * attribute itself, did not evaluate when the index was built.
   */
  unindexed(revision: string, name: string): { set: string; error: string } | null {
    const record = this.#deps.store.revision(revision);
    if (!record) return null;
    const image = imageComponent(name);
    const within = (set: string) =>
      image === imageComponent(set) || image.startsWith(`${imageComponent(set)}.`);
    const attr = record.failedAttrs.find((failed) => within(failed.attr));
    if (attr) return { set: attr.attr, error: attr.error };
    return record.skippedSets.find((skipped) => within(skipped.set)) ?? null;
  }

  #ensure(revision: string, source: ResolvedSource): void {
    if (this.#builds.has(revision)) return;
    const stored = this.#deps.store.revision(revision);
    // A stored index of an immutable revision is reused; one left "building" by a stopped
    // process, a failed one, or one of a local path is built again.
    if (stored?.state === "ready" && source.revision !== null) {
      this.#builds.set(revision, Promise.resolve());
      return;
    }
    const build = this.#queue.then(() => this.#build(revision, source));
    this.#queue = build;
    this.#builds.set(revision, build);
  }

  async #build(revision: string, source: ResolvedSource): Promise<void> {
    const { store, log } = this.#deps;
    const started = this.#now();
    store.begin(revision, started);
    log.info("package index started", { revision });
    try {
      const report = await buildIndex(this.#deps.runner, source, {
        system: this.#deps.system,
        chunkSize: this.#deps.chunkSize,
        chunkTimeoutMs: this.#deps.chunkTimeoutMs,
        nixDir: this.#deps.nixDir,
        signal: this.#deps.signal,
        onEntries: (entries) => store.add(revision, entries),
      });
      store.finish(revision, { state: "ready", ...report }, this.#now());
      log.info("package index ready", {
        revision,
        packages: report.packages,
        sets: report.sets,
        chunks: report.chunks,
        skippedSets: report.skippedSets.map((skipped) => skipped.set).join(" "),
        failedAttrs: report.failedAttrs.length,
        ms: this.#now() - started,
      });
    } catch (error) {
      try {
        store.finish(
          revision,
          { state: "failed", error: String(error), skippedSets: [], failedAttrs: [] },
          this.#now(),
        );
      } catch {
        // The database is already closed (the origin is stopping): nothing to record.
      }
      if (!this.#deps.signal?.aborted) {
        log.error("package index failed", { revision, error: String(error) });
      }
    }
  }
}
