/** The catalogs of Clara.io, clarife and SmartShape, as their users know them. */
export const CLARA_JOB_TYPES = [
  "import",
  "export",
  "renderFrame",
  "renderAnimation",
  "renderThumbnailVRay",
  "renderThumbnailWebGL",
  "renderFrameWebGL",
  "liveRender",
  "command",
  "imageReducer",
  "vrayBrdfToStandard",
] as const;

export const CLARA_STATUSES = ["pending", "working", "cancelled", "failed", "ok"] as const;

/** Clara's "all scenes". */
export const CLARA_ALL_SCENES = "all";

export const SMARTSHAPE_EVENTS = [
  "attribute_updated",
  "file_uploaded",
  "file_optimized",
  "annotation_created",
  "annotation_updated",
  "annotation_removed",
  "configuration_created",
  "configuration_updated",
  "configuration_removed",
] as const;

/** A Clara hook's filters as event types: every `<jobType>.<status>` pair. */
export const claraEventTypes = (jobTypes: readonly string[], statuses: readonly string[]) =>
  jobTypes.flatMap((j) => statuses.map((s) => `${j}.${s}`));

/** The filters back from event types, in the order the hook gave them. */
export function claraFilters(eventTypes: readonly string[]) {
  const pairs = eventTypes.map((t) => t.split("."));
  return {
    jobTypes: [...new Set(pairs.map((p) => p[0]))],
    statuses: [...new Set(pairs.map((p) => p[1]))],
  };
}
