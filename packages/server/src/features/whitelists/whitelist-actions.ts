import { pageInput, pageOutput, pageResult, paging } from '../../core/paging.js';
import { BusinessError, PopError } from '../../core/errors.js';
import { formatDateTime } from '../../core/ids.js';
import { defineAction, type ActionContext } from '../../core/registry.js';
import { S, commonInput, resultBase } from '../../core/schema.js';
import { FILE_URL_ERRORS } from '../storage/index.js';
import { withWhitelistFile } from './whitelist-file.js';
import { WhitelistService } from './whitelist-service.js';
import { WHITELIST_TYPE_HELP } from './whitelist-type.js';

const TAG = 'Whitelist';
const service = (ctx: ActionContext) => new WhitelistService(ctx.deps);
const scope = (ctx: ActionContext) => ({ appId: ctx.appId, workspaceId: ctx.workspaceId });

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 200;

export const createMcubeWhitelist = defineAction<{ WhiteListName: string; WhitelistType: string }>({
  name: 'CreateMcubeWhitelist',
  summary: 'Create an empty whitelist: normal (user ids, exact match) or regex (up to 20 expressions, each matching the whole user id).',
  tag: TAG,
  input: {
    ...commonInput,
    WhiteListName: S.str('whitelist name, unique in the app and workspace (capital L, unlike ListMcubeWhitelists.WhitelistName)', 200),
    WhitelistType: S.str(`list type: ${WHITELIST_TYPE_HELP}`, 32),
  },
  required: ['AppId', 'WorkspaceId', 'WhiteListName', 'WhitelistType'],
  resultKey: 'CreateWhitelistResult',
  result: S.obj({ WhitelistId: S.str('id of the new whitelist, as a decimal string'), ...resultBase }),
  mutates: true,
  errors: ['InvalidWhitelistName', 'InvalidWhitelistType', 'WhitelistNameExists'],
  handler: async (input, ctx) => {
    const id = await service(ctx).create(scope(ctx), input.WhiteListName, input.WhitelistType);
    return { WhitelistId: String(id) };
  },
});

export const createMcubeWhitelistForIde = defineAction<{ UserId: string; WhitelistValue: string }>({
  name: 'CreateMcubeWhitelistForIde',
  summary: 'Add user ids to the normal whitelist "ide-<UserId>" of an IDE user, creating it when missing. All or nothing.',
  tag: TAG,
  input: {
    ...commonInput,
    UserId: S.str('IDE user; the list is named "ide-" followed by it', 128),
    WhitelistValue: S.text('user ids separated by commas or line breaks'),
  },
  required: ['AppId', 'WorkspaceId', 'UserId', 'WhitelistValue'],
  resultKey: 'CreateWhitelistForIdeResult',
  result: S.obj({ WhitelistId: S.str('id of the IDE user\'s whitelist'), ...resultBase }),
  mutates: true,
  errors: ['InvalidUserId', 'InvalidWhitelistName', 'EmptyWhitelistContent', 'InvalidWhitelistValue', 'WhitelistTypeMismatch', 'WhitelistImportTooLarge', 'ConcurrentChange'],
  handler: async (input, ctx) => {
    const id = await service(ctx).createForIde(scope(ctx), input.UserId, input.WhitelistValue);
    return { WhitelistId: String(id) };
  },
});

export const deleteMcubeWhitelist = defineAction<{ Id: number }>({
  name: 'DeleteMcubeWhitelist',
  summary: 'Delete a whitelist and its entries; refused while an unfinished release task uses it.',
  tag: TAG,
  input: { ...commonInput, Id: S.int64('whitelist id (an integer here, a string in UpdateMcubeWhitelist)') },
  required: ['AppId', 'WorkspaceId', 'Id'],
  resultKey: 'DeleteWhitelistResult',
  result: S.obj({ Data: S.str(), ...resultBase }),
  mutates: true,
  errors: ['WhitelistNotFound', 'WhitelistInUse'],
  handler: async (input, ctx) => {
    await service(ctx).delete(scope(ctx), input.Id);
    return { Data: 'success' };
  },
});

export const listMcubeWhitelists = defineAction<{ PageNum?: number; PageSize?: number; WhitelistName?: string }>({
  name: 'ListMcubeWhitelists',
  summary: 'List whitelists, newest first, paged, optionally filtered by a case-insensitive part of the name.',
  tag: TAG,
  input: {
    ...commonInput,
    ...pageInput(DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
    WhitelistName: S.str('part of the name to look for (lower-case l, unlike CreateMcubeWhitelist.WhiteListName)', 200),
  },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'ListWhitelistResult',
  result: S.obj({
    ...pageOutput,
    Whitelists: S.arr(
      S.obj({
        AppCode: S.str('the AppId'),
        GmtCreate: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
        GmtModified: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
        Id: S.int64(),
        WhiteListCount: S.int64('number of ids (normal) or expressions (regex)'),
        WhiteListName: S.str(),
        WhitelistType: S.str('normal or regex'),
      }),
    ),
    ...resultBase,
  }),
  mutates: false,
  handler: async (input, ctx) => {
    const { pageNum, pageSize } = paging(input, DEFAULT_PAGE_SIZE);
    const nameContains = input.WhitelistName?.trim() || undefined;
    const { total, items } = await service(ctx).list(scope(ctx), { nameContains, pageNum, pageSize });
    return {
      ...pageResult(pageNum, pageSize, total),
      Whitelists: items.map((w) => ({
        AppCode: w.appId,
        GmtCreate: formatDateTime(w.createdAt),
        GmtModified: formatDateTime(w.modifiedAt),
        Id: w.id,
        WhiteListCount: w.entryCount,
        WhiteListName: w.name,
        WhitelistType: w.type,
      })),
    };
  },
});

export const updateMcubeWhitelist = defineAction<{ Id: string; KeyIds?: string; OssUrl?: string; OnexFlag?: boolean }>({
  name: 'UpdateMcubeWhitelist',
  summary:
    'Add user ids (normal list: separated by commas or line breaks; failures are counted) or expressions (regex list: one per line; all or nothing) inline and/or from an uploaded text file (UTF-8, or UTF-16 with its byte-order mark; a file in another encoding is refused, InvalidFileEncoding).',
  tag: TAG,
  input: {
    ...commonInput,
    Id: S.str('whitelist id (a string here, an integer in DeleteMcubeWhitelist)', 32),
    KeyIds: S.text('inline user ids or expressions'),
    OssUrl: S.str('FileUrl of a text file uploaded with a GetMcubeFileToken policy', 2048),
    OnexFlag: S.bool('accepted and ignored'),
  },
  required: ['AppId', 'WorkspaceId', 'Id'],
  resultKey: 'AddWhitelistResult',
  result: S.obj({
    AddWhitelistInfo: S.obj({
      FailNum: S.int64('ids refused (over 256 characters or holding control characters)'),
      FailUserIds: S.str('the first refused ids, comma-separated, at most 100 ids / 2000 characters'),
      SuccessNum: S.int64('ids accepted, including ones already present'),
    }),
    ...resultBase,
  }),
  mutates: true,
  errors: ['WhitelistNotFound', 'EmptyWhitelistContent', 'InvalidFileEncoding', 'InvalidWhitelistRegex', 'WhitelistRegexLimit', 'WhitelistImportTooLarge', ...FILE_URL_ERRORS],
  handler: async (input, ctx) => {
    const ossUrl = input.OssUrl?.trim();
    if (input.KeyIds === undefined && !ossUrl) throw new PopError(400, 'MissingParameter', 'Either KeyIds or OssUrl must be supplied.');
    const add = (openFile?: () => Promise<AsyncIterable<Buffer>>) => service(ctx).add(scope(ctx), input.Id, { inline: input.KeyIds, openFile });
    const out = ossUrl ? await withWhitelistFile(ctx, ossUrl, add) : await add();
    return { AddWhitelistInfo: { FailNum: out.failNum, FailUserIds: out.failUserIds, SuccessNum: out.successNum } };
  },
});

export const deleteMdsWhitelistContent = defineAction<{ WhitelistId: string; WhitelistValue: string }>({
  name: 'DeleteMdsWhitelistContent',
  summary: 'Remove one user id (normal list) or one expression (regex list) from a whitelist.',
  tag: TAG,
  input: {
    ...commonInput,
    WhitelistId: S.str('whitelist id', 32),
    WhitelistValue: S.str('the id or expression to remove (trimmed, exact)', 512),
  },
  required: ['AppId', 'WorkspaceId', 'WhitelistId', 'WhitelistValue'],
  resultKey: 'ResultContent',
  result: S.obj({
    Data: S.obj({ Content: S.str('the removed value'), ErrorCode: S.str(), ResultMsg: S.str(), Success: S.bool() }),
    RequestId: S.str(),
    ...resultBase,
  }),
  mutates: true,
  errors: ['WhitelistNotFound', 'WhitelistValueNotFound'],
  handler: async (input, ctx) => {
    try {
      const removed = await service(ctx).removeValue(scope(ctx), input.WhitelistId, input.WhitelistValue);
      return { Data: { Content: removed, ErrorCode: '', ResultMsg: '', Success: true } };
    } catch (err) {
      // This action reports its status in ResultContent.Data; keep it there on failure too.
      if (err instanceof BusinessError) throw new BusinessError(err.code, err.message, { Data: { Content: '', ErrorCode: err.code, ResultMsg: err.message, Success: false } });
      throw err;
    }
  },
});

/**
 * The Cube-card name of the same call (reference §4.A.7: "Same shape as
 * DeleteMdsWhitelistContent, for Cube-card whitelists"). mcube keeps one kind
 * of whitelist for every release kind, so both names edit the same lists.
 */
export const deleteCubecardWhitelistContent = defineAction<{ WhitelistId: string; WhitelistValue: string }>({
  ...deleteMdsWhitelistContent,
  name: 'DeleteCubecardWhitelistContent',
  summary: 'Remove one user id or expression from a whitelist: the Cube-card name of DeleteMdsWhitelistContent (the same lists).',
});

export const whitelistActionList = [
  createMcubeWhitelist,
  createMcubeWhitelistForIde,
  deleteMcubeWhitelist,
  listMcubeWhitelists,
  updateMcubeWhitelist,
  deleteMdsWhitelistContent,
  deleteCubecardWhitelistContent,
];
