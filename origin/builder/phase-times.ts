// Where a build's time went, phase by phase, for the "build phases" log line (and the closure
// benchmark, which reads it): each `end(phase)` charges the time since the previous one to `phase`;
// `add` charges work that ran concurrently (the layers' packing and storing, summed over layers).

export type BuildPhaseTime =
  | "lookupMs"
  | "realiseMs"
  | "closureMs"
  | "groupingMs"
  | "layersMs"
  | "manifestsMs"
  | "publishingMs";

export class PhaseTimes {
  #last: number;
  readonly #times: Record<string, number> = {};

  constructor(private readonly now: () => number = () => performance.now()) {
    this.#last = now();
  }

  /** Charges the time since the previous mark to `phase`. */
  end(phase: BuildPhaseTime): void {
    const now = this.now();
    this.add(phase, now - this.#last);
    this.#last = now;
  }

  /** Adds `ms` to `name` without moving the mark (work summed across concurrent layers). */
  add(name: BuildPhaseTime | "packMs" | "storeMs", ms: number): void {
    this.#times[name] = (this.#times[name] ?? 0) + ms;
  }

  /** Every figure, rounded to whole milliseconds. */
  fields(): Record<string, number> {
    return Object.fromEntries(
      Object.entries(this.#times).map(([name, ms]) => [name, Math.round(ms)]),
    );
  }
}
