/** Types of client-types.mjs, for the tests that import it. */
export declare const SCHEMA_PATH: string;
/** The OpenAPI document of src/app.ts, as GET /openapi.json answers it (built without a server). */
export declare function openapiDocument(): Promise<Record<string, unknown>>;
/** src/client/schema.d.ts's text for a document. */
export declare function generateClientTypes(document: Record<string, unknown>): Promise<string>;
/** The committed src/client/schema.d.ts. */
export declare function committedClientTypes(): string;
