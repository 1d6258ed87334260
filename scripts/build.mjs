/**
 * Builds what the package hands out, into dist/ (gitignored); `prepare` runs it, so
 * `npm install` / `npm ci` in a clone and `npm install -g .` leave it built.
 *
 *   dist/cli.js              the `hookline` and `smartshape-cli` bins (src/cli)
 *   dist/client/index.js     `hookline/client` (src/client), with index.d.ts and schema.d.ts
 *   dist/verify/index.js     `hookline/verify` (src/verify), with index.d.ts
 *
 * esbuild bundles our own code and leaves packages (commander, ws, openapi-fetch,
 * standardwebhooks, bcryptjs) as imports of the package's dependencies. The declarations
 * come from the TypeScript compiler (emitDeclarationOnly). `--js-only` skips them (tests).
 */
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = join(ROOT, "dist");
const jsOnly = process.argv.includes("--js-only");
const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));

const common = {
  bundle: true,
  format: "esm",
  packages: "external",
  target: "es2022",
  logLevel: "warning",
  absWorkingDir: ROOT,
};

async function loadEsbuild() {
  try {
    return await import("esbuild");
  } catch {
    throw new Error(
      "esbuild is not installed here: run `npm install` in this folder first (`npm install -g .` links the folder and uses its node_modules)",
    );
  }
}

export async function buildAll() {
  const { build } = await loadEsbuild();
  rmSync(join(DIST, "cli.js"), { force: true });
  await Promise.all([
    build({
      ...common,
      entryPoints: ["src/cli/main.ts"],
      outfile: join(DIST, "cli.js"),
      platform: "node",
      target: "node20",
      banner: { js: "#!/usr/bin/env node" },
      define: { __HOOKLINE_VERSION__: JSON.stringify(version) },
    }),
    build({ ...common, entryPoints: ["src/client/index.ts"], outfile: join(DIST, "client", "index.js"), platform: "neutral" }),
    build({ ...common, entryPoints: ["src/verify/index.ts"], outfile: join(DIST, "verify", "index.js"), platform: "neutral" }),
  ]);
  chmodSync(join(DIST, "cli.js"), 0o755);
  if (!jsOnly) await declarations();
}

async function declarations() {
  const { default: ts } = await import("typescript");
  const options = {
    declaration: true,
    emitDeclarationOnly: true,
    outDir: DIST,
    rootDir: join(ROOT, "src"),
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    target: ts.ScriptTarget.ES2022,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
    types: [],
    strict: true,
    skipLibCheck: true,
  };
  const program = ts.createProgram([join(ROOT, "src/client/index.ts"), join(ROOT, "src/verify/index.ts")], options);
  const result = program.emit();
  const problems = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics];
  if (problems.length) {
    const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => "\n" };
    throw new Error(ts.formatDiagnostics(problems, host));
  }
  // index.d.ts imports the generated types, which tsc does not copy.
  mkdirSync(join(DIST, "client"), { recursive: true });
  copyFileSync(join(ROOT, "src/client/schema.d.ts"), join(DIST, "client", "schema.d.ts"));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await buildAll();
  } catch (err) {
    console.error(`build failed: ${err.message}`);
    process.exit(1);
  }
}
