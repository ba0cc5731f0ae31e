import { S } from './schema.js';

/** PageNum / PageSize request fields; out-of-range values are refused by the schema. */
export function pageInput(defaultSize: number, maxSize: number) {
  return {
    PageNum: { ...S.int32('page number, from 1 (default 1)'), minimum: 1 },
    PageSize: { ...S.int32(`page size, 1 to ${maxSize} (default ${defaultSize})`), minimum: 1, maximum: maxSize },
  };
}

export function paging(input: { PageNum?: number; PageSize?: number }, defaultSize: number): { pageNum: number; pageSize: number } {
  return { pageNum: input.PageNum ?? 1, pageSize: input.PageSize ?? defaultSize };
}

/** The paging fields of a list result object. */
export const pageOutput = { CurrentPage: S.int32(), PageSize: S.int32(), TotalCount: S.int64(), HasMore: S.bool() };

export function pageResult(pageNum: number, pageSize: number, total: number) {
  return { CurrentPage: pageNum, PageSize: pageSize, TotalCount: total, HasMore: pageNum * pageSize < total };
}
