/** Which subscriptions an event goes to (src/core/matching.ts). */
import { describe, expect, it } from "vitest";
import { PATTERN_REGEX, patternMatches, subscriptionMatches, unknownPatterns } from "../../src/core/matching";

describe("patternMatches", () => {
  it("* matches every type", () => {
    for (const type of ["document.updated", "webhook.test", "attribute_updated", "renderFrame.ok"]) {
      expect(patternMatches("*", type)).toBe(true);
    }
  });

  it("an exact name matches only itself, case-sensitively", () => {
    expect(patternMatches("document.updated", "document.updated")).toBe(true);
    expect(patternMatches("document.updated", "document.created")).toBe(false);
    expect(patternMatches("document.updated", "Document.updated")).toBe(false);
    expect(patternMatches("document.updated", "document.updated.extra")).toBe(false);
    expect(patternMatches("document", "document.updated")).toBe(false);
  });

  it("a prefix pattern matches the types under it, at a dot boundary", () => {
    expect(patternMatches("document.*", "document.updated")).toBe(true);
    expect(patternMatches("document.*", "document.created")).toBe(true);
    expect(patternMatches("document.*", "document.sub.deep")).toBe(true);
    expect(patternMatches("document.*", "document")).toBe(false);
    expect(patternMatches("document.*", "documents.updated")).toBe(false);
    expect(patternMatches("document.*", "project.updated")).toBe(false);
    expect(patternMatches("render.*", "renderFrame.ok")).toBe(false);
    expect(patternMatches("a.b.*", "a.b.c")).toBe(true);
    expect(patternMatches("a.b.*", "a.bc.d")).toBe(false);
  });
});

describe("subscriptionMatches", () => {
  const event = (type: string, subject: string | null = null) => ({ type, subject });

  it("needs one of the patterns to match", () => {
    const sub = { eventTypes: ["project.created", "document.*"], subjects: null };
    expect(subscriptionMatches(sub, event("document.deleted"))).toBe(true);
    expect(subscriptionMatches(sub, event("project.created"))).toBe(true);
    expect(subscriptionMatches(sub, event("project.deleted"))).toBe(false);
    expect(subscriptionMatches({ eventTypes: [], subjects: null }, event("project.created"))).toBe(false);
  });

  it("subjects null means every subject, including none", () => {
    const sub = { eventTypes: ["*"], subjects: null };
    expect(subscriptionMatches(sub, event("document.updated", "doc-1"))).toBe(true);
    expect(subscriptionMatches(sub, event("document.updated", null))).toBe(true);
  });

  it("a subject list narrows to those subjects, exactly", () => {
    const sub = { eventTypes: ["*"], subjects: ["doc-1", "doc-2"] };
    expect(subscriptionMatches(sub, event("document.updated", "doc-1"))).toBe(true);
    expect(subscriptionMatches(sub, event("document.updated", "doc-2"))).toBe(true);
    expect(subscriptionMatches(sub, event("document.updated", "doc-3"))).toBe(false);
    expect(subscriptionMatches(sub, event("document.updated", "DOC-1"))).toBe(false);
    expect(subscriptionMatches(sub, event("document.updated", "doc"))).toBe(false);
    expect(subscriptionMatches(sub, event("document.updated", null))).toBe(false);
  });

  it("an empty subject list matches nothing", () => {
    expect(subscriptionMatches({ eventTypes: ["*"], subjects: [] }, event("document.updated", "doc-1"))).toBe(false);
  });

  it("the type must match as well as the subject", () => {
    const sub = { eventTypes: ["document.created"], subjects: ["doc-1"] };
    expect(subscriptionMatches(sub, event("document.updated", "doc-1"))).toBe(false);
  });
});

describe("unknownPatterns", () => {
  const catalog = ["document.created", "document.updated", "project.created", "webhook.test"];

  it("returns the patterns that name nothing in the catalog, in order", () => {
    expect(unknownPatterns(["document.updated", "nope.created", "*", "folder.*", "project.*"], catalog)).toEqual([
      "nope.created",
      "folder.*",
    ]);
  });

  it("accepts names, prefixes with a match and *", () => {
    expect(unknownPatterns(["document.*", "*", "webhook.test"], catalog)).toEqual([]);
  });

  it("* is unknown against an empty catalog", () => {
    expect(unknownPatterns(["*"], [])).toEqual(["*"]);
  });
});

describe("PATTERN_REGEX", () => {
  it.each(["*", "document.updated", "document.*", "a", "a.b.c.*", "attribute_updated", "renderFrame.ok", "A1_b.c2"])(
    "accepts %s",
    (p) => expect(PATTERN_REGEX.test(p)).toBe(true),
  );

  it.each([
    "",
    "**",
    "*.updated",
    "document.**",
    "document*",
    "document.",
    ".document",
    "document..updated",
    "1document",
    "document.1x",
    "document.updated ",
    "document-updated",
    "doc.*.x",
    "document.\n",
  ])("refuses %j", (p) => expect(PATTERN_REGEX.test(p)).toBe(false));
});
