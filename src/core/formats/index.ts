import { clara, clarife, smartshape } from "./seed-formats";
import { standard } from "./standard";
import type { Format, FormatName } from "./types";

export type { Format, FormatEvent, FormatName, ResponseSummary, SigningInput } from "./types";

export const formats: Record<FormatName, Format> = { standard, clara, clarife, smartshape };
export const formatNames = Object.keys(formats) as [FormatName, ...FormatName[]];

/** Headers no subscription may set, whatever its format: the transport's own. */
export const transportHeaders = [
  "content-type",
  "content-length",
  "host",
  "connection",
  "transfer-encoding",
  "te",
  "upgrade",
  "keep-alive",
  "proxy-connection",
  "expect",
  "trailer",
  "user-agent",
];
