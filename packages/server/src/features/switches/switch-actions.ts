import { pageInput, pageOutput, pageResult, paging } from '../../core/paging.js';
import { formatDateTime } from '../../core/ids.js';
import { defineAction, type ActionContext } from '../../core/registry.js';
import { S, commonInput, resultBase } from '../../core/schema.js';
import { invalid } from '../nebula/rules/field-error.js';
import { SwitchService } from './switch-service.js';
import { SWITCH_LIMITS, parseConfigKey, parseImportItem, parseNote, parseValues, refuseRewrittenNumbers, valueToWire } from './switch-values.js';

// The vendor's console manages switch configuration (guide §6) but its OpenAPI has no action for it; these are
// mcube's, in the same wire style (PascalCase, one result object, ResultCode/Success), so scripts and the SDK use
// them like the vendor's actions.
const TAG = 'SwitchConfig';
const service = (ctx: ActionContext) => new SwitchService(ctx.deps);
const scope = (ctx: ActionContext) => ({ appId: ctx.appId, workspaceId: ctx.workspaceId });

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 200;

const VALUES_HELP =
  'JSON array of the key\'s values, tried in order; a device gets the first it matches. Each: {"Value": text, "Platform": ALL|ANDROID|IOS (default ALL), ' +
  '"Type": ALL|WHITELIST|PERCENT (default ALL), "WhitelistIds": "1,2" (WHITELIST), "Percent": 0.01-100 (PERCENT), "Rules": advanced rules in the GreyConfigInfo format}';
const KEY_HELP = 'switch key: letters, digits and _ . - : (at most 128)';

const valueSchema = S.obj({
  Value: S.str('what devices receive for the key'),
  Platform: S.str('ALL, ANDROID or IOS'),
  Type: S.str('ALL (every device of the platform), WHITELIST or PERCENT'),
  WhitelistIds: S.str('comma-separated whitelist ids (Type WHITELIST)'),
  Percent: { type: 'number', description: 'share of users, 0.01 to 100 (Type PERCENT; 0 otherwise)' },
  Rules: S.str('advanced rules as JSON text in the GreyConfigInfo format; empty when none'),
});

export const createMcubeSwitchConfig = defineAction<{ ConfigKey: string; Note?: string; Values: string; Enabled?: boolean }>({
  name: 'CreateMcubeSwitchConfig',
  summary: 'mcube extension (guide §6): create a switch key with its values; enabled unless Enabled is false.',
  tag: TAG,
  input: {
    ...commonInput,
    ConfigKey: S.str(KEY_HELP, 128),
    Note: S.str('note shown in the list', SWITCH_LIMITS.maxNoteLength),
    Values: S.text(VALUES_HELP, 256 * 1024),
    Enabled: S.bool('whether devices receive the key (default true)'),
  },
  required: ['AppId', 'WorkspaceId', 'ConfigKey', 'Values'],
  resultKey: 'CreateSwitchConfigResult',
  result: S.obj({ Id: S.int64('id of the new key'), ConfigKey: S.str(), ...resultBase }),
  mutates: true,
  errors: ['InvalidConfigKey', 'InvalidNote', 'InvalidValues', 'SwitchConfigExists', 'SwitchConfigLimitExceeded'],
  handler: async (input, ctx) => {
    const key = parseConfigKey(input.ConfigKey);
    const spec = { key, note: parseNote(input.Note), enabled: input.Enabled !== false, values: parseValues(input.Values) };
    const id = await service(ctx).create(scope(ctx), spec, ctx.accessKeyId);
    return { Id: id, ConfigKey: key };
  },
});

export const updateMcubeSwitchConfig = defineAction<{ ConfigKey: string; Note?: string; Values?: string; Enabled?: string }>({
  name: 'UpdateMcubeSwitchConfig',
  summary: 'mcube extension (guide §6): change the note and/or replace all values of a switch key; the key itself cannot change.',
  tag: TAG,
  input: {
    ...commonInput,
    ConfigKey: S.str(KEY_HELP, 128),
    Note: S.str('new note (absent: unchanged; empty: cleared)', SWITCH_LIMITS.maxNoteLength),
    Values: S.text(`${VALUES_HELP} (absent: unchanged)`, 256 * 1024),
    Enabled: S.str('refused here: a key is switched on and off with ChangeMcubeSwitchConfigStatus', 16),
  },
  required: ['AppId', 'WorkspaceId', 'ConfigKey'],
  resultKey: 'UpdateSwitchConfigResult',
  result: S.obj({ ConfigKey: S.str(), ...resultBase }),
  mutates: true,
  errors: ['InvalidConfigKey', 'InvalidNote', 'InvalidValues', 'InvalidEnabled', 'SwitchConfigNotFound'],
  handler: async (input, ctx) => {
    const key = parseConfigKey(input.ConfigKey);
    // CreateMcubeSwitchConfig takes Enabled: an "update" to Enabled=false used to answer OK and change nothing
    if (input.Enabled !== undefined) throw invalid('Enabled', 'is not changed by UpdateMcubeSwitchConfig; switch the key on or off with ChangeMcubeSwitchConfigStatus.');
    if (input.Note === undefined && (input.Values === undefined || input.Values.trim() === '')) throw invalid('Values', 'give Values, Note or both: there is nothing to change.');
    const change = {
      note: input.Note === undefined ? undefined : parseNote(input.Note),
      values: input.Values === undefined || input.Values.trim() === '' ? undefined : parseValues(input.Values),
    };
    await service(ctx).update(scope(ctx), key, change, ctx.accessKeyId);
    return { ConfigKey: key };
  },
});

export const changeMcubeSwitchConfigStatus = defineAction<{ ConfigKey: string; Enabled: boolean }>({
  name: 'ChangeMcubeSwitchConfigStatus',
  summary: 'mcube extension (guide §6): activate (Enabled true) or deactivate (false) a switch key; a deactivated key is not sent to devices.',
  tag: TAG,
  input: { ...commonInput, ConfigKey: S.str(KEY_HELP, 128), Enabled: S.bool('true: devices receive the key; false: they do not') },
  required: ['AppId', 'WorkspaceId', 'ConfigKey', 'Enabled'],
  resultKey: 'ChangeSwitchConfigStatusResult',
  result: S.obj({ ConfigKey: S.str(), Enabled: S.bool(), ...resultBase }),
  mutates: true,
  errors: ['InvalidConfigKey', 'SwitchConfigNotFound'],
  handler: async (input, ctx) => {
    const key = parseConfigKey(input.ConfigKey);
    await service(ctx).setEnabled(scope(ctx), key, input.Enabled, ctx.accessKeyId);
    return { ConfigKey: key, Enabled: input.Enabled };
  },
});

export const deleteMcubeSwitchConfig = defineAction<{ ConfigKey: string }>({
  name: 'DeleteMcubeSwitchConfig',
  summary: 'mcube extension (guide §6): delete a switch key and its values; devices stop receiving it.',
  tag: TAG,
  input: { ...commonInput, ConfigKey: S.str(KEY_HELP, 128) },
  required: ['AppId', 'WorkspaceId', 'ConfigKey'],
  resultKey: 'DeleteSwitchConfigResult',
  result: S.obj({ ConfigKey: S.str(), ...resultBase }),
  mutates: true,
  errors: ['InvalidConfigKey', 'SwitchConfigNotFound'],
  handler: async (input, ctx) => {
    const key = parseConfigKey(input.ConfigKey);
    await service(ctx).delete(scope(ctx), key);
    return { ConfigKey: key };
  },
});

export const listMcubeSwitchConfigs = defineAction<{ Keyword?: string; PageNum?: number; PageSize?: number }>({
  name: 'ListMcubeSwitchConfigs',
  summary: 'mcube extension (guide §6): list switch keys with their values, newest first, paged, optionally by a case-insensitive part of the key or note.',
  tag: TAG,
  input: { ...commonInput, ...pageInput(DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE), Keyword: S.str('part of the key or note to look for', 128) },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'ListSwitchConfigResult',
  result: S.obj({
    ...pageOutput,
    SwitchConfigs: S.arr(
      S.obj({
        Id: S.int64(),
        ConfigKey: S.str(),
        Note: S.str(),
        Enabled: S.bool(),
        Creator: S.str('AccessKey id that created the key'),
        Modifier: S.str('AccessKey id of the last change'),
        GmtCreate: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
        GmtModified: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
        Values: S.arr(valueSchema),
      }),
    ),
    ...resultBase,
  }),
  mutates: false,
  handler: async (input, ctx) => {
    const { pageNum, pageSize } = paging(input, DEFAULT_PAGE_SIZE);
    const keyword = input.Keyword?.trim() || undefined;
    const { total, items } = await service(ctx).list(scope(ctx), { keyword, offset: (pageNum - 1) * pageSize, limit: pageSize });
    return {
      ...pageResult(pageNum, pageSize, total),
      SwitchConfigs: items.map((c) => ({
        Id: c.id,
        ConfigKey: c.key,
        Note: c.note,
        Enabled: c.enabled,
        Creator: c.creator,
        Modifier: c.modifier,
        GmtCreate: formatDateTime(c.createdAt),
        GmtModified: formatDateTime(c.modifiedAt),
        Values: c.values.map(valueToWire),
      })),
    };
  },
});

export const exportMcubeSwitchConfigs = defineAction<Record<string, never>>({
  name: 'ExportMcubeSwitchConfigs',
  summary: 'mcube extension (guide §6.3): every switch key of the app and workspace as the JSON file ImportMcubeSwitchConfigs reads.',
  tag: TAG,
  input: { ...commonInput },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'ExportSwitchConfigResult',
  result: S.obj({ Content: S.str('JSON array of {ConfigKey, Note, Enabled, Values}, oldest key first'), Count: S.int32(), ...resultBase }),
  mutates: false,
  handler: async (_input, ctx) => {
    const { items } = await service(ctx).list(scope(ctx), { offset: 0, limit: SWITCH_LIMITS.maxKeysPerWorkspace * 2 });
    const file = items.reverse().map((c) => ({ ConfigKey: c.key, Note: c.note, Enabled: c.enabled, Values: c.values.map(valueToWire) }));
    // compact: the import takes it back as one form field, under MCUBE_MAX_BODY_BYTES
    return { Content: JSON.stringify(file), Count: file.length };
  },
});

export const importMcubeSwitchConfigs = defineAction<{ Content: string }>({
  name: 'ImportMcubeSwitchConfigs',
  summary: 'mcube extension (guide §6.3): add the switch keys of an export file; keys that exist already are skipped, not changed. All or nothing.',
  tag: TAG,
  input: { ...commonInput, Content: S.text('the JSON array ExportMcubeSwitchConfigs gives: [{ConfigKey, Note, Enabled, Values}] (the request is bounded by MCUBE_MAX_BODY_BYTES)', 8 * 1024 * 1024) },
  required: ['AppId', 'WorkspaceId', 'Content'],
  resultKey: 'ImportSwitchConfigResult',
  result: S.obj({ ImportedKeys: S.arr(S.str()), SkippedKeys: S.arr(S.str('keys that existed and were left as they are')), ...resultBase }),
  mutates: true,
  errors: ['InvalidContent', 'SwitchConfigLimitExceeded'],
  handler: async (input, ctx) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(input.Content);
    } catch {
      throw invalid('Content', 'is not valid JSON; give the array ExportMcubeSwitchConfigs returns.');
    }
    // an empty array is what an empty workspace exports: nothing to import
    if (!Array.isArray(parsed)) throw invalid('Content', 'must be a JSON array of switch keys.');
    refuseRewrittenNumbers(input.Content, 'Content');
    if (parsed.length > SWITCH_LIMITS.maxImport) throw invalid('Content', `holds ${parsed.length} keys; at most ${SWITCH_LIMITS.maxImport} are imported at once.`);
    const r = await service(ctx).importMany(scope(ctx), parsed.map(parseImportItem), ctx.accessKeyId);
    return { ImportedKeys: r.imported, SkippedKeys: r.skipped };
  },
});

export const switchActions = [
  createMcubeSwitchConfig,
  updateMcubeSwitchConfig,
  changeMcubeSwitchConfigStatus,
  deleteMcubeSwitchConfig,
  listMcubeSwitchConfigs,
  exportMcubeSwitchConfigs,
  importMcubeSwitchConfigs,
];
