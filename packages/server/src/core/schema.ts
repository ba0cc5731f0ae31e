/** Small JSON-schema builders for action declarations (wire names, form values coerced by ajv). */
export type JsonSchema = Record<string, unknown>;

export const S = {
  str: (description?: string, maxLength = 1024): JsonSchema => ({ type: 'string', maxLength, ...(description ? { description } : {}) }),
  text: (description?: string, maxLength = 1024 * 1024): JsonSchema => ({ type: 'string', maxLength, ...(description ? { description } : {}) }),
  int32: (description?: string): JsonSchema => ({ type: 'integer', format: 'int32', minimum: -2147483648, maximum: 2147483647, ...(description ? { description } : {}) }),
  int64: (description?: string): JsonSchema => ({ type: 'integer', format: 'int64', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, ...(description ? { description } : {}) }),
  bool: (description?: string): JsonSchema => ({ type: 'boolean', ...(description ? { description } : {}) }),
  enumOf: (values: Array<string | number>, base: JsonSchema): JsonSchema => ({ ...base, enum: values }),
  obj: (properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema => ({
    type: 'object',
    properties,
    ...(required.length ? { required } : {}),
  }),
  arr: (items: JsonSchema): JsonSchema => ({ type: 'array', items }),
};

/** The three common request parameters every Mcube action carries. */
export const commonInput = {
  AppId: S.str('mPaaS app id', 64),
  WorkspaceId: S.str('workspace id', 64),
  TenantId: S.str('tenant id', 64),
};

/** Fields every result object carries. */
export const resultBase = {
  Success: S.bool(),
  ResultMsg: S.str(),
};
