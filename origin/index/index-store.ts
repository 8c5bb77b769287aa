// The package index in SQLite, in its own database file (beside the origin's), one set of rows
// per source revision: the packages (with an FTS5 table over their attribute words and
// descriptions), what could not be indexed, and the state of the revision's index. Every query
// binds its parameters; the FTS query is built from the user's words, each quoted.

import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { IndexEntry } from "./index-chunk.ts";

export type IndexState = "building" | "ready" | "failed";

export interface IndexedPackage extends IndexEntry {
  /** The image-name component a user types (lowercase, `_7zip` → `7zip`). */
  image: string;
}

export interface RevisionRecord {
  revision: string;
  state: IndexState;
  startedAt: number;
  finishedAt: number | null;
  packages: number;
  /** Sub-sets and attributes that could not be indexed, and why. */
  skippedSets: { set: string; error: string }[];
  failedAttrs: { attr: string; error: string }[];
  error: string | null;
}

const schema = `
  CREATE TABLE IF NOT EXISTS index_revisions (
    revision TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    packages INTEGER NOT NULL DEFAULT 0,
    skipped TEXT NOT NULL DEFAULT '{"skippedSets":[],"failedAttrs":[]}',
    error TEXT
  );
  CREATE TABLE IF NOT EXISTS index_packages (
    id INTEGER PRIMARY KEY,
    revision TEXT NOT NULL,
    attr TEXT NOT NULL,
    image TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    description TEXT NOT NULL,
    license TEXT NOT NULL,
    unfree INTEGER NOT NULL,
    broken INTEGER NOT NULL,
    insecure INTEGER NOT NULL,
    words TEXT NOT NULL,
    UNIQUE (revision, attr)
  );
  CREATE INDEX IF NOT EXISTS index_packages_by_image ON index_packages (revision, image);
  CREATE VIRTUAL TABLE IF NOT EXISTS index_fts USING fts5(
    words, description, content='index_packages', content_rowid='id'
  );
`;

interface PackageRow {
  attr: string;
  image: string;
  name: string;
  version: string;
  description: string;
  license: string;
  unfree: number;
  broken: number;
  insecure: number;
}

export class IndexStore {
  readonly #db: Database.Database;

  constructor(path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.#db = new Database(path);
    this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("synchronous = NORMAL");
    this.#db.pragma("busy_timeout = 5000");
    this.#db.exec(schema);
  }

  revision(revision: string): RevisionRecord | null {
    const row = this.#db
      .prepare(
        "SELECT revision, state, started_at, finished_at, packages, skipped, error FROM index_revisions WHERE revision = ?",
      )
      .get(revision) as
      | {
          revision: string;
          state: IndexState;
          started_at: number;
          finished_at: number | null;
          packages: number;
          skipped: string;
          error: string | null;
        }
      | undefined;
    if (!row) return null;
    const skipped = JSON.parse(row.skipped) as Pick<RevisionRecord, "skippedSets" | "failedAttrs">;
    return {
      revision: row.revision,
      state: row.state,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      packages: row.packages,
      skippedSets: skipped.skippedSets,
      failedAttrs: skipped.failedAttrs,
      error: row.error,
    };
  }

  /** Forgets what is stored for the revision and records that its index is being built. */
  begin(revision: string, now: number): void {
    this.#db.transaction(() => {
      this.#clear(revision);
      this.#db
        .prepare(
          "INSERT INTO index_revisions (revision, state, started_at) VALUES (?, 'building', ?)",
        )
        .run(revision, now);
    })();
  }

  add(revision: string, entries: readonly IndexEntry[]): void {
    const insert = this.#db.prepare(
      `INSERT OR IGNORE INTO index_packages
         (revision, attr, image, name, version, description, license, unfree, broken, insecure, words)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const indexText = this.#db.prepare(
      "INSERT INTO index_fts (rowid, words, description) VALUES (?, ?, ?)",
    );
    this.#db.transaction(() => {
      for (const entry of entries) {
        const words = attributeWords(entry.attr, entry.name);
        const result = insert.run(
          revision,
          entry.attr,
          imageComponent(entry.attr),
          entry.name,
          entry.version,
          entry.description,
          entry.license,
          entry.unfree ? 1 : 0,
          entry.broken ? 1 : 0,
          entry.insecure ? 1 : 0,
          words,
        );
        if (result.changes > 0) indexText.run(result.lastInsertRowid, words, entry.description);
      }
      this.#db
        .prepare("UPDATE index_revisions SET packages = packages + ? WHERE revision = ?")
        .run(entries.length, revision);
    })();
  }

  finish(
    revision: string,
    outcome: { state: "ready" | "failed"; error?: string } & Pick<
      RevisionRecord,
      "skippedSets" | "failedAttrs"
    >,
    now: number,
  ): void {
    this.#db
      .prepare(
        "UPDATE index_revisions SET state = ?, finished_at = ?, skipped = ?, error = ? WHERE revision = ?",
      )
      .run(
        outcome.state,
        now,
        JSON.stringify({ skippedSets: outcome.skippedSets, failedAttrs: outcome.failedAttrs }),
        outcome.error ?? null,
        revision,
      );
  }

  /** Words search: every word must match (the last one as a prefix), best matches first. */
  search(
    revision: string,
    words: readonly string[],
    limit: number,
    exact: string,
  ): IndexedPackage[] {
    if (words.length === 0) return [];
    const match = words
      .map((word, index) => `"${word}"${index === words.length - 1 ? "*" : ""}`)
      .join(" ");
    const rows = this.#db
      .prepare(
        `SELECT p.attr, p.image, p.name, p.version, p.description, p.license, p.unfree, p.broken, p.insecure
           FROM index_fts f JOIN index_packages p ON p.id = f.rowid
          WHERE index_fts MATCH ? AND p.revision = ?
          ORDER BY (p.image = ? OR p.attr = ?) DESC, (p.name = ?) DESC,
                   bm25(index_fts, 10.0, 1.0), length(p.attr)
          LIMIT ?`,
      )
      .all(match, revision, exact, exact, exact, limit) as PackageRow[];
    return rows.map(toPackage);
  }

  /** One package by attribute path or by the image component a user types. */
  get(revision: string, attrOrImage: string): IndexedPackage | null {
    const row = this.#db
      .prepare(
        `SELECT attr, image, name, version, description, license, unfree, broken, insecure
           FROM index_packages WHERE revision = ? AND (attr = ? OR image = ?)
          ORDER BY attr = ? DESC LIMIT 1`,
      )
      .get(revision, attrOrImage, attrOrImage.toLowerCase(), attrOrImage) as PackageRow | undefined;
    return row ? toPackage(row) : null;
  }

  /** Every image component of the revision, for suggestions (edit distance). */
  images(revision: string): string[] {
    return this.#db
      .prepare("SELECT image FROM index_packages WHERE revision = ?")
      .pluck()
      .all(revision) as string[];
  }

  close(): void {
    this.#db.close();
  }

  #clear(revision: string): void {
    const ids = this.#db
      .prepare("SELECT id, words, description FROM index_packages WHERE revision = ?")
      .all(revision) as { id: number; words: string; description: string }[];
    const remove = this.#db.prepare(
      "INSERT INTO index_fts (index_fts, rowid, words, description) VALUES ('delete', ?, ?, ?)",
    );
    for (const row of ids) remove.run(row.id, row.words, row.description);
    this.#db.prepare("DELETE FROM index_packages WHERE revision = ?").run(revision);
    this.#db.prepare("DELETE FROM index_revisions WHERE revision = ?").run(revision);
  }
}

function toPackage(row: PackageRow): IndexedPackage {
  return {
    attr: row.attr,
    image: row.image,
    name: row.name,
    version: row.version,
    description: row.description,
    license: row.license,
    unfree: row.unfree === 1,
    broken: row.broken === 1,
    insecure: row.insecure === 1,
  };
}

/** The image-name component for an attribute path: lowercase, `_7zip` → `7zip`. */
export function imageComponent(attr: string): string {
  return attr
    .split(".")
    .map((part) => part.replace(/^_(?=[0-9])/, "").toLowerCase())
    .join(".");
}

/**
 * What the full-text index knows of an attribute path: its parts, their camelCase and digit
 * pieces (`python3Packages` → python3packages python packages), and the package's name.
 */
export function attributeWords(attr: string, name: string): string {
  const words = new Set<string>();
  for (const part of attr.split(/[^A-Za-z0-9]+/).filter(Boolean)) {
    words.add(part.toLowerCase());
    for (const piece of part.split(/(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])/)) {
      words.add(piece.toLowerCase());
    }
  }
  for (const part of name.split(/[^A-Za-z0-9]+/).filter(Boolean)) words.add(part.toLowerCase());
  return [...words].join(" ");
}

/** The user's words as FTS tokens: letters and digits only, lowercase, at most eight. */
export function queryWords(q: string): string[] {
  return q
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean)
    .slice(0, 8);
}
