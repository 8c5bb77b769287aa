// The record of builds: every build's image, tag, outcome, duration and error, for the start page.

import type { Db } from "./database.ts";

export type BuildOutcome = "success" | "not_found" | "failed" | "timeout";

export interface BuildRecord {
  image: string;
  tag: string;
  revision: string | null;
  outcome: BuildOutcome;
  durationMs: number;
  error: string | null;
  finishedAt: number;
}

interface BuildRow {
  image: string;
  tag: string;
  revision: string | null;
  outcome: BuildOutcome;
  duration_ms: number;
  error: string | null;
  finished_at: number;
}

export class BuildRecords {
  private readonly insertStmt;
  private readonly recentErrorsStmt;
  private readonly countStmt;

  constructor(db: Db) {
    this.insertStmt = db.prepare(
      `INSERT INTO builds (image, tag, revision, outcome, duration_ms, error, finished_at)
       VALUES (@image, @tag, @revision, @outcome, @durationMs, @error, @finishedAt)`,
    );
    this.recentErrorsStmt = db.prepare<[number], BuildRow>(
      `SELECT * FROM builds WHERE outcome != 'success' ORDER BY id DESC LIMIT ?`,
    );
    this.countStmt = db.prepare<[], { outcome: BuildOutcome; count: number }>(
      "SELECT outcome, COUNT(*) AS count FROM builds GROUP BY outcome",
    );
  }

  record(build: BuildRecord): void {
    this.insertStmt.run(build);
  }

  recentErrors(limit = 15): BuildRecord[] {
    return this.recentErrorsStmt.all(limit).map((row) => ({
      image: row.image,
      tag: row.tag,
      revision: row.revision,
      outcome: row.outcome,
      durationMs: row.duration_ms,
      error: row.error,
      finishedAt: row.finished_at,
    }));
  }

  counts(): Record<BuildOutcome, number> {
    const counts: Record<BuildOutcome, number> = {
      success: 0,
      not_found: 0,
      failed: 0,
      timeout: 0,
    };
    for (const row of this.countStmt.all()) counts[row.outcome] = row.count;
    return counts;
  }
}
