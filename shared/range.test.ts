import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RegistryError } from "./errors.ts";
import { contentRange, parseRange, rangeRequest } from "./range.ts";

describe("parseRange", () => {
  const ok: [string | null, number, { start: number; end: number } | null][] = [
    [null, 100, null],
    ["bytes=0-9", 100, { start: 0, end: 9 }],
    ["bytes=10-", 100, { start: 10, end: 99 }],
    ["bytes=-10", 100, { start: 90, end: 99 }],
    ["bytes=-1000", 100, { start: 0, end: 99 }],
    ["bytes=90-1000", 100, { start: 90, end: 99 }],
    ["bytes=99-99", 100, { start: 99, end: 99 }],
    ["BYTES=0-0", 100, { start: 0, end: 0 }],
    ["items=0-5", 100, null],
  ];
  for (const [header, size, expected] of ok) {
    it(`${header} of ${size}`, () => assert.deepEqual(parseRange(header, size), expected));
  }

  const bad: [string, number, RegExp][] = [
    ["bytes=100-", 100, /beyond/],
    ["bytes=200-300", 100, /beyond/],
    ["bytes=5-1", 100, /end before start/],
    ["bytes=0-1,5-6", 100, /multiple ranges/],
    ["bytes=abc", 100, /malformed byte range/],
    ["bytes=-", 100, /malformed byte range/],
    ["bytes=-0", 100, /empty suffix/],
    ["garbage", 100, /malformed Range header/],
    ["bytes=0-", 0, /beyond/],
  ];
  for (const [header, size, message] of bad) {
    it(`rejects ${header} with 416 and Content-Range`, () => {
      assert.throws(
        () => parseRange(header, size),
        (error: unknown) =>
          error instanceof RegistryError &&
          error.status === 416 &&
          error.headers["Content-Range"] === `bytes */${size}` &&
          message.test(error.message),
      );
    });
  }

  it("formats Content-Range", () => {
    assert.equal(contentRange({ start: 0, end: 9 }, 100), "bytes 0-9/100");
  });
});

describe("rangeRequest", () => {
  const cases: [string | null, unknown][] = [
    [null, null],
    ["bytes=0-9", { offset: 0, length: 10 }],
    [" bytes= 10- ", { offset: 10 }],
    ["bytes=-10", { suffix: 10 }],
    ["bytes=5-1", null],
    ["bytes=-0", null],
    ["bytes=0-1,5-6", null],
    ["items=0-5", null],
    ["garbage", null],
  ];
  for (const [header, hint] of cases) {
    it(`hints ${JSON.stringify(header)} as ${JSON.stringify(hint)}`, () =>
      assert.deepEqual(rangeRequest(header).hint, hint));
  }

  it("resolves like parseRange once the size is known", () => {
    assert.deepEqual(rangeRequest("bytes=90-1000").resolve(100), { start: 90, end: 99 });
    assert.throws(() => rangeRequest("bytes=100-").resolve(100), { status: 416 });
  });
});
