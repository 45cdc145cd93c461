import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { removeOrderedQuantities } from "./cart-line-removal.ts";

describe("removeOrderedQuantities", () => {
  it("deletes a line whose whole quantity was ordered", () => {
    const removal = removeOrderedQuantities([{ id: "a", qty: 2 }], [{ cartLineId: "a", qty: 2 }]);
    expect(removal).toEqual({ deleteIds: ["a"], updates: [] });
  });

  it("keeps the quantity added after the checkout started", () => {
    const removal = removeOrderedQuantities([{ id: "a", qty: 5 }], [{ cartLineId: "a", qty: 2 }]);
    expect(removal).toEqual({ deleteIds: [], updates: [{ id: "a", qty: 3 }] });
  });

  it("leaves lines the checkout did not take untouched", () => {
    const removal = removeOrderedQuantities(
      [
        { id: "a", qty: 1 },
        { id: "new", qty: 4 },
      ],
      [{ cartLineId: "a", qty: 1 }],
    );
    expect(removal).toEqual({ deleteIds: ["a"], updates: [] });
  });

  it("deletes a line lowered below the ordered quantity since, and ignores one removed since", () => {
    const removal = removeOrderedQuantities(
      [{ id: "a", qty: 1 }],
      [
        { cartLineId: "a", qty: 3 },
        { cartLineId: "gone", qty: 1 },
      ],
    );
    expect(removal).toEqual({ deleteIds: ["a"], updates: [] });
  });

  test.prop([
    fc.uniqueArray(
      fc.record({
        id: fc.uuid(),
        qty: fc.integer({ min: 1, max: 100 }),
        ordered: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
      }),
      { selector: (l) => l.id },
    ),
  ])("never leaves a line at zero or below, and never touches an unordered line", (lines) => {
    const removal = removeOrderedQuantities(
      lines,
      lines.flatMap((l) => (l.ordered ? [{ cartLineId: l.id, qty: l.ordered }] : [])),
    );
    for (const line of lines) {
      const update = removal.updates.find((u) => u.id === line.id);
      const deleted = removal.deleteIds.includes(line.id);
      if (line.ordered === undefined) expect(update ?? deleted).toBeFalsy();
      else if (line.qty > line.ordered) expect(update?.qty).toBe(line.qty - line.ordered);
      else expect(deleted).toBe(true);
    }
  });
});
