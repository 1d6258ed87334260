/**
 * How deeply a JSON value nests. Every recursive walker (JSON.stringify, schema
 * validators, our own) overflows the stack on a value nested tens of thousands of
 * levels deep, so emit and the catalog refuse values past MAX_JSON_DEPTH, measured
 * here without recursion.
 */

/** Arrays and objects inside one another that an event's data or an event type's schema may hold. */
export const MAX_JSON_DEPTH = 64;

export const TOO_DEEP_MESSAGE = `nested more than ${MAX_JSON_DEPTH} levels of arrays and objects`;

/** Levels of arrays and objects in a parsed value (a scalar is 0, `{}` and `[]` are 1); stops counting past `limit`. */
export function valueDepth(value: unknown, limit = MAX_JSON_DEPTH): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    const level = depth + 1;
    if (level > deepest) deepest = level;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === "object") stack.push([child, level]);
    }
  }
  return deepest;
}

/** For schema refinements: at most MAX_JSON_DEPTH levels. */
export const notTooDeep = (value: unknown) => valueDepth(value) <= MAX_JSON_DEPTH;
