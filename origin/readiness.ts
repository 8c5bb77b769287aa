// Readiness for /healthz: whether the dependencies a pull needs answer now (storage, Nix, the
// package source). Each check runs at most once per `cacheMs` however often /healthz is asked, so
// the endpoint cannot be used to flood S3 or a git server, and a slow check never blocks a probe
// for longer than its timeout.

export type Check = () => Promise<void>;

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, "ok" | string>;
}

export class Readiness {
  #last: { at: number; report: Promise<ReadinessReport> } | null = null;

  constructor(
    private readonly checks: Record<string, Check>,
    private readonly options: { cacheMs?: number; timeoutMs?: number; now?: () => number } = {},
  ) {}

  report(): Promise<ReadinessReport> {
    const now = (this.options.now ?? Date.now)();
    if (this.#last && now - this.#last.at < (this.options.cacheMs ?? 5000)) {
      return this.#last.report;
    }
    const report = this.#run();
    this.#last = { at: now, report };
    return report;
  }

  async #run(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      Object.entries(this.checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), this.options.timeoutMs ?? 10_000);
          return [name, "ok"] as const;
        } catch (error) {
          return [name, error instanceof Error ? error.message : String(error)] as const;
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    return { ready: entries.every(([, result]) => result === "ok"), checks };
  }
}

async function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
