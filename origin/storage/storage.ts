// The storage interface the origin writes blobs and manifests through, sized by capability:
// the registry read path sees only BlobReader, the build pipeline only BlobWriter.
// Keys come from shared/storage-keys.ts. Invariant of every backend: an object is visible at
// its key only once it is complete and its content matches the sha256 it is stored under.

export interface ObjectStat {
  size: number;
}

export interface ByteSpan {
  start: number;
  /** Inclusive. */
  end: number;
}

export interface BlobReader {
  stat(key: string): Promise<ObjectStat | null>;
  /** Streams an object (or a span of it); null when it does not exist. */
  read(key: string, span?: ByteSpan): Promise<ReadableStream<Uint8Array> | null>;
  /** Reads a small object whole (manifests, configs); null when it does not exist. */
  readBytes(key: string): Promise<Uint8Array<ArrayBuffer> | null>;
  /** A URL the client may be redirected to instead of streaming through the origin, if any. */
  redirectUrl?(key: string): Promise<string | null>;
}

export interface PutOptions {
  /** Lowercase hex sha256 of the content; the backend refuses content that does not match. */
  sha256: string;
  contentType?: string;
  /** Aborting stops the upload (a multipart upload is aborted); the put rejects with the reason. */
  signal?: AbortSignal;
}

/**
 * Keys are content addresses, so a put whose (verified) content is already stored at its key is
 * done without writing: backends check for the key themselves and callers need not ask first.
 */
export interface BlobWriter {
  has(key: string): Promise<boolean>;
  /**
   * Publishes a complete local file at `key`. The file is moved or deleted by the backend in
   * every case; callers must not use it afterwards.
   */
  putFile(key: string, path: string, options: PutOptions): Promise<void>;
  putBytes(key: string, bytes: Uint8Array<ArrayBuffer>, options: PutOptions): Promise<void>;
  /**
   * Starts uploading a file while it is still being written (backends where uploading takes
   * time: S3/R2); absent where publishing a finished file is cheap (the filesystem).
   */
  startFileUpload?(path: string, signal?: AbortSignal): FileUpload;
}

/**
 * An upload fed as a file is written: nothing is visible under any final key until `finish`,
 * and `abort` (or a failed `finish`) leaves nothing behind but what a crash cleanup removes.
 */
export interface FileUpload {
  /** The next chunk of the file, already written to it. */
  written(chunk: Uint8Array): void;
  /** The file is complete: publishes it at `key` as putFile would (and removes the file). */
  finish(key: string, options: PutOptions): Promise<void>;
  /** Drops what was uploaded (the caller removes the file). Never rejects. */
  abort(): Promise<void>;
}

export interface StoredObject {
  key: string;
  size: number;
  /** When the object was written (epoch ms): the collector spares objects younger than its grace. */
  modifiedAt: number;
}

/** What the garbage collector needs: every object under a prefix, and removal by key. */
export interface ObjectCollector {
  /** Every object whose key starts with `prefix` (in no particular order). */
  list(prefix: string): AsyncIterable<StoredObject>;
  /** Removes an object; removing one that does not exist is not an error. */
  delete(key: string): Promise<void>;
}

/** What a start found and removed of an earlier run's crash. */
export interface CrashLeftovers {
  /** Files in the scratch directory. */
  scratchFiles: number;
  /** Multipart uploads in the upload journal, aborted. */
  abortedUploads: number;
  /**
   * Staged objects older than a day that no journal names (the data directory was lost or
   * replaced): no upload runs that long, so nobody will copy them.
   */
  staleStaging: number;
}

/** What the origin does with its storage at start and for readiness. */
export interface StorageUpkeep {
  /** Throws, with the backend's reason, unless the storage can be read and written now. */
  check(): Promise<void>;
  /** Removes leftovers of a crash: staging files, unfinished uploads, stale staged objects. */
  cleanUpAfterCrash(now?: number): Promise<CrashLeftovers>;
}

export interface Storage extends BlobReader, BlobWriter, StorageUpkeep, ObjectCollector {
  /** A short human description for logs and the start page, e.g. "filesystem:/var/lib/…". */
  readonly description: string;
  /** A directory for temporary pack output, ideally on the same filesystem as the store. */
  readonly scratchDir: string;
}

export class ContentMismatch extends Error {
  constructor(key: string, expected: string, actual: string) {
    super(`content of ${key} has sha256 ${actual}, expected ${expected}`);
    this.name = "ContentMismatch";
  }
}
