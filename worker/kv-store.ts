// The edge's KV namespace (MANIFESTS): tag records (shared/tag-record.ts) and usage marks
// (worker/usage-marks.ts), keyed as shared/storage-keys.ts draws them. The only code that
// touches KV.

import { tagKey, usageMarkKey } from "../shared/storage-keys.ts";
import { parseTagRecord, type TagRecord } from "../shared/tag-record.ts";
import type { TagRecordStore, UsageMarkStore } from "./edge-deps.ts";

/** A usage mark lives two days, so yesterday's mark never suppresses today's report. */
const usageMarkSeconds = 2 * 24 * 3600;

export class KvStore implements TagRecordStore, UsageMarkStore {
  readonly #kv: KVNamespace;

  constructor(kv: KVNamespace) {
    this.#kv = kv;
  }

  async getTagRecord(canonicalName: string, tag: string): Promise<TagRecord | null> {
    return parseTagRecord(await this.#kv.get(tagKey(canonicalName, tag)));
  }

  /**
   * Records a tag resolution. Records never expire in KV: an expired one is still served
   * (marked stale) while the origin is unreachable. Callers store the manifests first.
   */
  async putTagRecord(canonicalName: string, record: TagRecord): Promise<void> {
    await this.#kv.put(tagKey(canonicalName, record.tag), JSON.stringify(record));
  }

  async isMarked(digest: string, day: string): Promise<boolean> {
    return (await this.#kv.get(usageMarkKey(digest))) === day;
  }

  async mark(digest: string, day: string): Promise<void> {
    await this.#kv.put(usageMarkKey(digest), day, { expirationTtl: usageMarkSeconds });
  }
}
