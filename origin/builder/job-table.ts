// The one owner of build jobs: the running ones, which every request for the same id joins
// instead of starting another, and the finished ones, kept for pollers (and, when they failed, so
// that a storm of retries is answered from memory instead of building again).
//
// Invariants: a job's work promise has its handler attached the moment it is created, so no
// outcome can become an unhandled rejection; `whenSettled` never rejects; between looking for a
// running job and registering a new one there is no await, so two callers cannot both start one.
// Each job owns its progress (build-progress.ts): the work reports to it, pages read it.

import type { BuildEvents } from "./build-events.ts";
import { BuildProgressTracker } from "./build-progress.ts";

export type JobState<T> =
  { state: "running" } | { state: "done"; result: T } | { state: "failed"; error: unknown };

export class Job<T> {
  #state: JobState<T> = { state: "running" };
  #settledAt = 0;
  /** What the job is doing now; its last phase is `done` or `failed` once it settled. */
  readonly progress: BuildProgressTracker;
  /** Resolves when the job has finished, whatever the outcome; never rejects. */
  readonly whenSettled: Promise<void>;

  constructor(
    readonly id: string,
    work: Promise<T>,
    private readonly now: () => number,
    progress?: BuildProgressTracker,
  ) {
    this.progress = progress ?? new BuildProgressTracker(now);
    this.whenSettled = work.then(
      (result) => this.#settle({ state: "done", result }),
      (error: unknown) => this.#settle({ state: "failed", error }),
    );
  }

  /** A job that is already done; `progress`: the finished build's, when one is still known. */
  static done<T>(
    id: string,
    result: T,
    now: () => number,
    progress?: BuildProgressTracker,
  ): Job<T> {
    const work: Promise<T> = new Promise((resolve) => resolve(result));
    return new Job(id, work, now, progress).#settleNow({ state: "done", result });
  }

  get status(): JobState<T> {
    return this.#state;
  }

  get settledAt(): number {
    return this.#settledAt;
  }

  /** The result, or the job's error thrown (a fresh rejection for each caller, always awaited). */
  async result(): Promise<T> {
    await this.whenSettled;
    const status = this.#state;
    if (status.state === "done") return status.result;
    if (status.state === "failed") throw status.error;
    throw new Error(`job ${this.id} settled without an outcome`);
  }

  /** Waits at most `ms` for the job to settle; resolves to its state then. */
  async waitFor(ms: number): Promise<JobState<T>> {
    if (this.#state.state !== "running" || ms <= 0) return this.#state;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const elapsed = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    });
    await Promise.race([this.whenSettled, elapsed]);
    clearTimeout(timer);
    return this.#state;
  }

  #settle(state: JobState<T>): void {
    this.#state = state;
    this.#settledAt = this.now();
    this.progress.finish(state.state === "done" ? "done" : "failed");
  }

  #settleNow(state: JobState<T>): this {
    this.#settle(state);
    return this;
  }
}

export interface JobTableOptions {
  /** How long a finished job stays findable by id (for pollers). */
  keepFinishedMs: number;
  /** How long a failed job is handed to new requests instead of a new build (0: never). */
  failureTtlMs: number;
  /** Whether a failure may be remembered (not, e.g., a full queue or an origin shutting down). */
  remember: (error: unknown) => boolean;
  /** At most this many finished jobs are kept (the oldest go first). */
  maxFinished?: number;
  now?: () => number;
}

export class JobTable<T> {
  readonly #running = new Map<string, Job<T>>();
  readonly #finished = new Map<string, Job<T>>();
  readonly #options: Required<JobTableOptions>;

  constructor(options: JobTableOptions) {
    this.#options = { maxFinished: 10_000, now: Date.now, ...options };
  }

  /** A job a new request for `id` should join: a running one, or a recent remembered failure. */
  joinable(id: string): Job<T> | undefined {
    const running = this.#running.get(id);
    if (running) return running;
    const finished = this.#finished.get(id);
    if (!finished || finished.status.state !== "failed") return undefined;
    const age = this.#options.now() - finished.settledAt;
    if (age < this.#options.failureTtlMs && this.#options.remember(finished.status.error)) {
      return finished;
    }
    return undefined;
  }

  /**
   * Starts `work` as the job `id`, or returns the job a caller should join instead. The work
   * reports its events to the sink it is given, which feeds the new job's progress.
   */
  start(id: string, work: (events: BuildEvents) => Promise<T>): Job<T> {
    const existing = this.joinable(id);
    if (existing) return existing;
    const progress = new BuildProgressTracker(this.#options.now);
    const job = new Job(
      id,
      settleLater(() => work((event) => progress.record(event))),
      this.#options.now,
      progress,
    );
    this.#running.set(id, job);
    void job.whenSettled.then(() => this.#retire(job));
    return job;
  }

  /** Records an answer that needed no work (a cache hit), so pollers of `id` find it. */
  finished(id: string, result: T): Job<T> {
    // A build that finished a moment ago keeps showing how it went.
    const built = this.#finished.get(id);
    const progress = built?.status.state === "done" ? built.progress : undefined;
    const job = Job.done(id, result, this.#options.now, progress);
    if (!this.#running.has(id)) this.#keep(job);
    return job;
  }

  /** A running job, or a finished one that is still kept. */
  find(id: string): Job<T> | undefined {
    const job = this.#running.get(id) ?? this.#finished.get(id);
    if (!job || job.status.state === "running") return job;
    return this.#options.now() - job.settledAt <= this.#options.keepFinishedMs ? job : undefined;
  }

  get runningCount(): number {
    return this.#running.size;
  }

  /** Settles when every job running now has settled. */
  async settled(): Promise<void> {
    await Promise.all([...this.#running.values()].map((job) => job.whenSettled));
  }

  #retire(job: Job<T>): void {
    if (this.#running.get(job.id) === job) this.#running.delete(job.id);
    this.#keep(job);
  }

  #keep(job: Job<T>): void {
    this.#finished.delete(job.id);
    this.#finished.set(job.id, job);
    const now = this.#options.now();
    const keepMs = Math.max(this.#options.keepFinishedMs, this.#options.failureTtlMs);
    // Map order is insertion order: the oldest entries come first.
    for (const [id, old] of this.#finished) {
      const expired = now - old.settledAt > keepMs;
      if (!expired && this.#finished.size <= this.#options.maxFinished) break;
      this.#finished.delete(id);
    }
  }
}

/** Runs `work` on a later tick, so a synchronous throw becomes a rejection like any other. */
async function settleLater<T>(work: () => Promise<T>): Promise<T> {
  await undefined;
  return work();
}
