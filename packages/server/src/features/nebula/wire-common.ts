import { S, resultBase } from '../../core/schema.js';

/** Result fields most Nebula result objects carry besides Success/ResultMsg. */
export const resultWithCode = { ...resultBase, ErrorCode: S.str(), RequestId: S.str() };

export const pageInput = {
  PageNum: { ...S.int32('page number, from 1 (default 1)'), minimum: 1 },
  PageSize: { ...S.int32('page size, 1 to 500 (default 100)'), minimum: 1, maximum: 500 },
};

export function paging(input: { PageNum?: number; PageSize?: number }): { pageNum: number; pageSize: number } {
  return { pageNum: input.PageNum ?? 1, pageSize: input.PageSize ?? 100 };
}

export { FILE_URL_ERRORS as UPLOAD_ERRORS } from '../storage/index.js';
