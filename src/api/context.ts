import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ZodError } from "zod";
import type { Config } from "../config";
import { type FieldError, ProblemError } from "../core/problem";
import type { AccountRow } from "../db/schema";

export type Principal = { kind: "operator" } | { kind: "account"; account: AccountRow; keyId: string };

export type AppEnv = {
  Bindings: Env;
  Variables: { principal: Principal; config: Config };
};

export type AppContext = Context<AppEnv>;

/** zod issues as the problem body's `errors`, one per offending field. */
export function fieldErrors(error: ZodError, prefix = ""): FieldError[] {
  return issueErrors(error.issues, prefix);
}

function issueErrors(issues: ZodError["issues"], prefix: string): FieldError[] {
  return issues.flatMap((issue): FieldError[] => {
    const base = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
    // A union that matched no branch: the branch that came closest (fewest issues) says
    // what is wrong, rather than a bare "Invalid input".
    if (issue.code === "invalid_union" && issue.errors.length) {
      const closest = issue.errors.reduce((best, branch) => (branch.length < best.length ? branch : best));
      if (closest.length) return issueErrors(closest, base);
    }
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        path: base ? `${base}.${key}` : key,
        message: "unknown field",
      }));
    }
    return [{ path: base || "(body)", message: issue.message }];
  });
}

export function validationProblem(error: ZodError, prefix = ""): ProblemError {
  const errors = fieldErrors(error, prefix);
  const detail = errors.map((e) => `${e.path}: ${e.message}`).join("; ");
  return new ProblemError("validation", detail, errors);
}

/** Every router shares one validation hook: a failed schema is a 422 problem. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const prefix = result.target === "query" ? "query" : result.target === "param" ? "path" : "";
        throw validationProblem(result.error as ZodError, prefix);
      }
    },
  });
}

export function requireOperator(c: AppContext): void {
  if (c.get("principal").kind !== "operator") {
    throw new ProblemError("forbidden", "this route needs the operator token (ADMIN_TOKEN)");
  }
}

export function requireAccount(c: AppContext): AccountRow {
  const principal = c.get("principal");
  if (principal.kind !== "account") {
    throw new ProblemError("forbidden", "this route needs an account's API key, not the operator token");
  }
  return principal.account;
}
