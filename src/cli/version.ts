/** The CLI's version, replaced by the build with package.json's (scripts/build.mjs). */
declare const __HOOKLINE_VERSION__: string | undefined;
export const VERSION: string = typeof __HOOKLINE_VERSION__ === "string" ? __HOOKLINE_VERSION__ : "0.0.0-dev";
