/** OpenAPI paths and schemas of the device endpoint (merged into openapi/ by scripts/gen-openapi.ts). */
export const deviceOpenApiPaths: Record<string, unknown> = {};
export const deviceOpenApiSchemas: Record<string, unknown> = {};
