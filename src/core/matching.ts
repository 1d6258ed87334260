/**
 * Which subscriptions an event goes to: the one piece of logic every format
 * shares. Patterns are a catalog name, `*`, or a prefix such as `document.*`.
 */
export interface Matchable {
  eventTypes: readonly string[];
  /** null: every subject. */
  subjects: readonly string[] | null;
}

export interface MatchableEvent {
  type: string;
  subject: string | null;
}

export const PATTERN_REGEX = /^(\*|[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*(\.\*)?)$/;

export function patternMatches(pattern: string, type: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

export function subscriptionMatches(sub: Matchable, event: MatchableEvent): boolean {
  if (!sub.eventTypes.some((p) => patternMatches(p, event.type))) return false;
  if (sub.subjects === null) return true;
  return event.subject !== null && sub.subjects.includes(event.subject);
}

/** The patterns that name nothing in the catalog (each is an error for the caller). */
export function unknownPatterns(patterns: readonly string[], catalog: readonly string[]): string[] {
  return patterns.filter((p) => !catalog.some((name) => patternMatches(p, name)));
}
