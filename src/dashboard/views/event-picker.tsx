/** The subscription form's events field: the catalog grouped by resource, with a wildcard per group. */
import type { CatalogEntry } from "../queries";
import { describedBy, FieldErrors } from "./parts";

interface EventGroup {
  key: string;
  types: CatalogEntry[];
  wildcard: string | null;
}

/** The catalog by resource: the part of the name before its first dot or underscore. */
export function groupCatalog(entries: CatalogEntry[]): EventGroup[] {
  const groups = new Map<string, CatalogEntry[]>();
  for (const e of entries) {
    const key = e.name.split(/[._]/)[0];
    groups.set(key, [...(groups.get(key) ?? []), e]);
  }
  return [...groups.entries()].map(([key, types]) => ({
    key,
    types,
    wildcard: types.every((t) => t.name.startsWith(`${key}.`)) ? `${key}.*` : null,
  }));
}

/** The catalog by resource (a deprecated type only if already picked); picked types it lacks show under "other". */
export function EventPicker(props: { catalog: CatalogEntry[]; selected: string[]; errors?: string[] }) {
  const selected = new Set(props.selected);
  const usable = props.catalog.filter((t) => !t.deprecated || selected.has(t.name));
  const groups = groupCatalog(usable);
  const shown = new Set(["*", ...usable.map((t) => t.name), ...groups.flatMap((g) => (g.wildcard ? [g.wildcard] : []))]);
  const others = props.selected.filter((t) => !shown.has(t));
  const invalid = props.errors ? "true" : undefined;
  const err = props.errors ? "event_types-error" : undefined;
  return (
    <fieldset id="f-event_types" aria-describedby={describedBy("event_types-hint", err)} aria-invalid={invalid}>
      <legend>Events</legend>
      <p class="hint" id="event_types-hint">
        Pick the events this endpoint receives, by resource. “Every … event” also covers types added later.
      </p>
      <FieldErrors id="event_types-error" messages={props.errors} />
      <label class="check">
        <input type="checkbox" name="event_types" value="*" checked={selected.has("*")} />
        <span>
          All events <code>*</code>
        </span>
      </label>
      {groups.map((g) => {
        const picked = g.types.filter((t) => selected.has(t.name)).length + (g.wildcard && selected.has(g.wildcard) ? 1 : 0);
        return (
          <details class="group" open={picked > 0}>
            <summary>
              <strong>{g.key}</strong>{" "}
              <span class="muted">
                ({g.types.length} {g.types.length === 1 ? "event" : "events"}
                {picked > 0 ? `, ${picked} picked` : ""})
              </span>
            </summary>
            {g.wildcard && (
              <label class="check">
                <input type="checkbox" name="event_types" value={g.wildcard} checked={selected.has(g.wildcard)} />
                <span>
                  Every {g.key} event <code>{g.wildcard}</code>
                </span>
              </label>
            )}
            {g.types.map((t) => (
              <label class="check">
                <input type="checkbox" name="event_types" value={t.name} checked={selected.has(t.name)} />
                <span>
                  <code>{t.name}</code>
                  {t.deprecated && <strong> (deprecated)</strong>}
                  {t.description && <span class="muted"> {t.description}</span>}
                </span>
              </label>
            ))}
          </details>
        );
      })}
      {others.length > 0 && (
        <details class="group" open>
          <summary>
            <strong>other</strong>
          </summary>
          {others.map((t) => (
            <label class="check">
              <input type="checkbox" name="event_types" value={t} checked />
              <code>{t}</code>
            </label>
          ))}
        </details>
      )}
    </fieldset>
  );
}
