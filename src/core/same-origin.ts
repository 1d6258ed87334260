/**
 * Whether a browser says a request comes from this service's own origin. Browsers send
 * Origin and Sec-Fetch-Site with what another site starts (a form post, a link, a frame);
 * curl and server-side clients send neither, so they always pass.
 */
export function sameOrigin(requestUrl: string, headers: Headers): boolean {
  const origin = headers.get("origin");
  if (origin !== null && origin !== new URL(requestUrl).origin) return false;
  const site = headers.get("sec-fetch-site");
  // "none": typed in the address bar or opened from a bookmark, which no other site can start.
  return site === null || site === "same-origin" || site === "none";
}
