// What a build is doing, as it happens: the tracker each job of the job table owns, which takes
// the build's events (build-events.ts), keeps the latest state and wakes the pages waiting for a
// change. Nothing here is needed for a build to succeed: an event is a few field writes, and
// without a page watching nobody reads them.

import type { BuildPhase, BuildProgress } from "../../shared/web/web-types.ts";
import type { BuildEvent } from "./build-events.ts";
import { derivationName } from "./image-metadata.ts";

const logLines = 20;
const maxLineLength = 400;
const shownBuilding = 3;
/** Phases kept in the history (an index's platforms each pass through them). */
const maxHistory = 24;

export class BuildProgressTracker {
  #progress: BuildProgress;
  #plan: "derivations" | "downloads" | null = null;
  readonly #waiters = new Set<() => void>();

  constructor(private readonly now: () => number) {
    this.#progress = {
      seq: 1,
      phase: "queued",
      startedAt: now(),
      platform: null,
      queuePosition: null,
      derivations: null,
      downloads: null,
      layers: null,
      log: [],
      history: [{ phase: "queued", at: 0 }],
    };
  }

  get snapshot(): BuildProgress {
    return this.#progress;
  }

  /** Takes one of the build's events (the job table hands the build `(e) => tracker.record(e)`). */
  record(event: BuildEvent): void {
    if (event.kind === "phase") this.phase(event.phase, event);
    else if (event.kind === "nix-line") this.nixLine(event.line);
    else this.layers(event.done, event.total, event.bytes);
  }

  /** The build moved on to `phase` (for `queued`: at `queuePosition`). */
  phase(phase: BuildPhase, fields: { queuePosition?: number; platform?: string } = {}): void {
    const history = this.#progress.history;
    // Moving up the queue is a change (a new position), not a new phase.
    const entered =
      history.at(-1)?.phase === phase
        ? history
        : [...history, { phase, at: this.now() - this.#progress.startedAt }].slice(-maxHistory);
    this.#update({
      phase,
      queuePosition: fields.queuePosition ?? null,
      history: entered,
      ...(fields.platform ? { platform: fields.platform } : {}),
    });
  }

  /** Layers packed (or found in the cache) of `total`, and their compressed bytes so far. */
  layers(done: number, total: number, bytes: number): void {
    this.#update({ layers: { done, total, bytes } });
  }

  /**
   * Reads `nix-store --realise`'s stderr (the same words in Nix 2.8 to 2.26): "these N
   * derivations will be built:" and "these N paths will be fetched" give the totals, followed by
   * the paths (indented); "building '…drv'" and "copying path '…'" start one; the rest is output.
   */
  nixLine(raw: string): void {
    const line = raw.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
    const progress = this.#progress;
    const plan = /^(?:these (\d+)|this) (derivations?|paths?) will be (built|fetched)/.exec(line);
    if (plan) {
      const total = plan[1] ? Number(plan[1]) : 1;
      this.#plan = plan[3] === "built" ? "derivations" : "downloads";
      if (this.#plan === "derivations") {
        this.#update({ derivations: { started: 0, total, building: [] } });
      } else this.#update({ downloads: { started: 0, total } });
      return;
    }
    if (this.#plan && /^\s+\/nix\/store\//.test(line)) return;
    this.#plan = null;
    const building = /^building '([^']+)'/.exec(line);
    if (building) {
      const current = progress.derivations ?? { started: 0, total: 0, building: [] };
      const name = derivationName(building[1]!);
      this.#update({
        derivations: {
          started: current.started + 1,
          total: Math.max(current.total, current.started + 1),
          building: [name, ...current.building].slice(0, shownBuilding),
        },
      });
      return;
    }
    if (/^copying path '/.test(line)) {
      const current = progress.downloads ?? { started: 0, total: 0 };
      this.#update({
        downloads: {
          started: current.started + 1,
          total: Math.max(current.total, current.started + 1),
        },
      });
      return;
    }
    if (line.trim() === "") return;
    const log = [...progress.log, line.slice(0, maxLineLength)].slice(-logLines);
    this.#update({ log });
  }

  /**
   * The job ended: the last state pollers see. A finished job is kept for a while (the job
   * table's pollers); a successful build's output is of no more use and is dropped then.
   */
  finish(outcome: "done" | "failed"): void {
    if (outcome === "done") this.#update({ log: [] });
    this.phase(outcome);
  }

  /**
   * Resolves once the progress has moved past `after`, or after `ms`, or when `signal` aborts;
   * whichever comes first. The waiter is removed in every case, so a client that went away costs
   * nothing.
   */
  waitForChange(after: number, ms: number, signal: AbortSignal): Promise<BuildProgress> {
    if (this.#progress.seq > after || signal.aborted || ms <= 0) {
      return Promise.resolve(this.#progress);
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.#waiters.delete(done);
        resolve(this.#progress);
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      this.#waiters.add(done);
    });
  }

  get waiting(): number {
    return this.#waiters.size;
  }

  #update(change: Partial<BuildProgress>): void {
    this.#progress = { ...this.#progress, ...change, seq: this.#progress.seq + 1 };
    for (const wake of [...this.#waiters]) wake();
  }
}
