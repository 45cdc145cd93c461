import { describe, expect, it } from "vitest";
import { preferredWaitSeconds } from "./prefer-wait.ts";

describe("preferredWaitSeconds", () => {
  it("reads wait=N alone or among other preferences", () => {
    expect(preferredWaitSeconds("wait=5")).toBe(5);
    expect(preferredWaitSeconds("respond-async, wait=3")).toBe(3);
    expect(preferredWaitSeconds("return=minimal; wait=2")).toBe(2);
  });

  it("caps the wait at 10 seconds", () => {
    expect(preferredWaitSeconds("wait=600")).toBe(10);
  });

  it("asks no wait when the header is absent, zero or not an integer", () => {
    expect(preferredWaitSeconds(undefined)).toBeUndefined();
    expect(preferredWaitSeconds("wait=0")).toBeUndefined();
    expect(preferredWaitSeconds("wait=1.5")).toBeUndefined();
    expect(preferredWaitSeconds("wait=soon")).toBeUndefined();
    expect(preferredWaitSeconds("nowait=5")).toBeUndefined();
  });
});
