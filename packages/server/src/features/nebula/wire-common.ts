import { pageInput as corePageInput } from '../../core/paging.js';
import { S, resultBase } from '../../core/schema.js';

/** Result fields most Nebula result objects carry besides Success/ResultMsg. */
export const resultWithCode = { ...resultBase, ErrorCode: S.str(), RequestId: S.str() };

/** Nebula lists: the vendor samples send no paging, so a page is large by default. */
export const NEBULA_PAGE_SIZE = 100;
export const pageInput = corePageInput(NEBULA_PAGE_SIZE, 500);

export { FILE_URL_ERRORS as UPLOAD_ERRORS } from '../storage/index.js';
