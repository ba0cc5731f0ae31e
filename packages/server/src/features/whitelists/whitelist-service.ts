import type { Knex } from 'knex';
import { BusinessError } from '../../core/errors.js';
import { handBack } from '../../core/hand-back.js';
import type { Deps } from '../../core/registry.js';
import { CONTROL_CHARS } from '../../core/text.js';
import { insertThenFind } from '../../db/insert-then-find.js';
import { bumpStamp } from '../../db/stamps.js';
import { ID_SEPARATORS, idProblem, type Piece, REGEX_SEPARATORS, shownId, splitPieces, streamPieces } from './id-parsing.js';
import { MAX_REGEX_PER_LIST, regexProblem } from './regex-rules.js';
import { CHANGE_LOG_MAX, type Scope, type Whitelist, whitelistStore as store } from './whitelist-store.js';
import { parseWhitelistType } from './whitelist-type.js';

export interface AddOutcome {
  successNum: number;
  failNum: number;
  /** the first failed ids, comma-separated, capped at FAIL_LIST_MAX_IDS ids / FAIL_LIST_MAX_CHARS characters */
  failUserIds: string;
}

/** An add as the list's counter sees it: the rows that were new. */
/** `logged`: the change for the nodes' change log, null when it is too big to log */
type Added = AddOutcome & { added: number; logged: Array<{ value: string; added: boolean }> | null };

export interface AddRequest {
  /** inline ids (normal list: separated by commas or line breaks) or expressions (regex list: one per line) */
  inline?: string;
  /** an uploaded text file, opened only once the list is known to exist */
  openFile?: () => Promise<AsyncIterable<Buffer>>;
}

export const FAIL_LIST_MAX_IDS = 100;
export const FAIL_LIST_MAX_CHARS = 2000;
/** ids collected (and de-duplicated) before they go to the store */
export const IMPORT_CHUNK = 5000;
export const MAX_NAME_LENGTH = 200;
export const IDE_LIST_PREFIX = 'ide-';


/** Ids on the wire are decimal strings or numbers; anything else can name no list. */
export function parseListId(raw: string | number): number | null {
  const s = String(raw).trim();
  if (!/^\d{1,15}$/.test(s)) return null;
  const n = Number(s);
  // list ids are 32-bit serials: a larger one names no list, and PostgreSQL would refuse to compare it
  return n > 0 && n <= 2147483647 ? n : null;
}

const notFound = (raw: string | number) => new BusinessError('WhitelistNotFound', `Whitelist "${String(raw).slice(0, 64)}" does not exist in this app and workspace.`);

/** Whitelist rules: names, types, limits, and one transaction plus a change stamp per change. */
export class WhitelistService {
  constructor(private readonly deps: Deps) {}

  private get lock(): boolean {
    return this.deps.db.dialect === 'pg';
  }

  /**
   * Runs one change in a transaction that also bumps the delivery stamp, then
   * wakes delivery after commit; `changed` false for the outcome: nothing was
   * written, so no node has anything to reload.
   */
  private async change<T>(s: Scope, fn: (trx: Knex.Transaction) => Promise<T>, changed: (r: T) => boolean = () => true): Promise<T> {
    const { knex, dialect } = this.deps.db;
    let moved = false;
    const out = await knex.transaction(async (trx) => {
      const r = await fn(trx);
      moved = changed(r);
      if (moved) await bumpStamp(trx, dialect, s.appId, s.workspaceId);
      return r;
    });
    if (moved) this.deps.onDeliveryChange(s.appId, s.workspaceId);
    return out;
  }

  private async mustGet(trx: Knex.Transaction, s: Scope, raw: string | number): Promise<Whitelist> {
    const id = parseListId(raw);
    const list = id === null ? null : await store.get(trx, s, id, this.lock);
    if (!list) throw notFound(raw);
    return list;
  }

  async create(s: Scope, rawName: string, rawType: string): Promise<number> {
    const name = checkName(rawName);
    const type = parseWhitelistType(rawType);
    try {
      return await this.change(s, (trx) => store.insert(trx, s, name, type, this.deps.now()));
    } catch (err) {
      if (this.deps.db.isUniqueViolation(err)) {
        // its id in the message: a pipeline run again can go on with the list it made the first time
        const existing = await store.getByName(this.deps.db.knex, s, name);
        throw new BusinessError('WhitelistNameExists', `A whitelist named "${name}" already exists in this app and workspace${existing ? ` (id ${existing.id})` : ''}.`);
      }
      throw err;
    }
  }

  /**
   * Creates (or appends to) the normal list "ide-<UserId>" of an IDE user. All or
   * nothing: there is no place in the answer to report failed ids.
   */
  async createForIde(s: Scope, rawUserId: string, rawValue: string): Promise<number> {
    const userId = rawUserId.trim();
    if (!userId || CONTROL_CHARS.test(userId)) throw new BusinessError('InvalidUserId', 'UserId must be a non-empty user name without control characters.');
    const name = checkName(IDE_LIST_PREFIX + userId);
    const pieces = splitPieces(rawValue, ID_SEPARATORS);
    if (!pieces.length) throw new BusinessError('EmptyWhitelistContent', 'WhitelistValue holds no user id.');
    const bad = pieces.filter((p) => idProblem(p));
    if (bad.length) throw new BusinessError('InvalidWhitelistValue', `These user ids are refused (at most 256 characters, no control characters): ${failList(bad)}.`);
    this.checkImportSize(pieces.length);
    return this.change(s, async (trx) => {
      const now = this.deps.now();
      const list = await insertThenFind(
        () =>
          trx('whitelists')
            .insert({ app_id: s.appId, workspace_id: s.workspaceId, name, type: 'normal', entry_count: 0, created_at: now, modified_at: now })
            .onConflict(['app_id', 'workspace_id', 'name'])
            .ignore(),
        () => store.getByName(trx, s, name, this.lock),
      );
      if (!list) throw new BusinessError('ConcurrentChange', `Whitelist "${name}" was deleted and re-created meanwhile; retry.`);
      if (list.type !== 'normal') throw new BusinessError('WhitelistTypeMismatch', `Whitelist "${name}" is a ${list.type} list; IDE users get a normal list.`);
      const values = [...new Set(pieces.map((p) => p.value))];
      const added = await store.insertValues(trx, this.deps.db.dialect, list.id, values);
      await store.touch(trx, list.id, now, added, asAdded(values));
      return list.id;
    });
  }

  async delete(s: Scope, rawId: number): Promise<void> {
    await this.change(s, async (trx) => {
      const list = await this.mustGet(trx, s, rawId);
      const { tasks, switchKeys } = await store.usersOf(trx, s, list.id);
      const named = [...tasks.nebula.map(String), ...tasks.mini.map((id) => `mini program task ${id}`), ...tasks.upgrade.map((id) => `upgrade task ${id}`)];
      if (named.length || switchKeys.length) {
        const keys = switchKeys.slice(0, 20).map((k) => `switch key ${k}`);
        const what = [named.length ? `unfinished release task(s) ${named.slice(0, 20).join(', ')}` : '', keys.join(', ')].filter(Boolean).join(' and ');
        const how = [
          tasks.nebula.length ? 'ChangeMcubeNebulaTaskStatus' : '',
          tasks.mini.length ? 'a mini program task with ChangeMcubeMiniTaskStatus' : '',
          tasks.upgrade.length ? 'an upgrade task with "npm run admin -- upgrade-tasks end", or with its package, DeleteMcubeUpgradeResource' : '',
        ].filter(Boolean);
        const todo = [named.length ? `end the tasks (${how.join('; ')})` : '', keys.length ? 'give the switch keys other values or delete them' : ''].filter(Boolean).join(' and ');
        throw new BusinessError('WhitelistInUse', `Whitelist ${list.id} is used by ${what}; ${todo} before deleting the whitelist.`);
      }
      await store.delete(trx, this.deps.db.dialect, s, list.id);
    });
  }

  async list(s: Scope, opts: { nameContains?: string; pageNum: number; pageSize: number }) {
    const { knex } = this.deps.db;
    return store.list(knex, s, { nameContains: opts.nameContains, offset: (opts.pageNum - 1) * opts.pageSize, limit: opts.pageSize });
  }

  /** Adds ids or expressions from inline text and/or a file, all in one transaction. */
  async add(s: Scope, rawId: string, req: AddRequest): Promise<AddOutcome> {
    const r = await this.change(
      s,
      async (trx) => {
        const list = await this.mustGet(trx, s, rawId);
        const separators = list.type === 'regex' ? REGEX_SEPARATORS : ID_SEPARATORS;
        const sources: AsyncIterable<Piece>[] = [];
        if (req.inline !== undefined) sources.push(toAsync(splitPieces(req.inline, separators)));
        if (req.openFile) sources.push(streamPieces(await req.openFile(), separators));
        const outcome = list.type === 'regex' ? await this.addRegex(trx, list, sources) : await this.addIds(trx, list, sources);
        if (outcome.successNum + outcome.failNum === 0) throw new BusinessError('EmptyWhitelistContent', 'No user id or expression was found in the input.');
        // every value refused or already listed: the list, its modified time and the delivery stamp stay as they were
        if (outcome.added > 0) await store.touch(trx, list.id, this.deps.now(), outcome.added, outcome.logged);
        return { successNum: outcome.successNum, failNum: outcome.failNum, failUserIds: outcome.failUserIds, added: outcome.added };
      },
      (out) => out.added > 0,
    );
    return { successNum: r.successNum, failNum: r.failNum, failUserIds: r.failUserIds };
  }

  private async addIds(trx: Knex.Transaction, list: Whitelist, sources: AsyncIterable<Piece>[]): Promise<Added> {
    let successNum = 0;
    let added = 0;
    const failed = new FailList();
    let batch = new Set<string>();
    // the values in the order they were added, for the change log while they fit in it
    let logged: string[] | null = [];
    for (const src of sources) {
      for await (const p of src) {
        this.checkImportSize(successNum + failed.count + 1);
        if (idProblem(p)) {
          failed.add(p);
          continue;
        }
        successNum++;
        batch.add(p.value);
        if (logged && logged.push(p.value) > CHANGE_LOG_MAX) logged = null;
        if (batch.size >= IMPORT_CHUNK) {
          added += await store.insertValues(trx, this.deps.db.dialect, list.id, [...batch]);
          batch = new Set();
          // SQLite runs synchronously: let device checks and other requests through between chunks.
          await handBack();
        }
      }
    }
    if (batch.size) added += await store.insertValues(trx, this.deps.db.dialect, list.id, [...batch]);
    return { successNum, failNum: failed.count, failUserIds: failed.text(), added, logged: logged && asAdded(logged) };
  }

  /** All or nothing: one refused expression, or one too many, refuses the whole call. */
  private async addRegex(trx: Knex.Transaction, list: Whitelist, sources: AsyncIterable<Piece>[]): Promise<Added> {
    const existing = new Set(await store.values(trx, list.id));
    const fresh = new Set<string>();
    let successNum = 0;
    for (const src of sources) {
      for await (const p of src) {
        this.checkImportSize(successNum + 1);
        successNum++;
        if (existing.has(p.value) || fresh.has(p.value)) continue;
        const why = p.overLong ? 'an expression has at most 256 characters' : await regexProblem(p.value);
        if (why) throw new BusinessError('InvalidWhitelistRegex', `Expression "${shownId(p)}" is refused: ${why}. Nothing was added.`);
        fresh.add(p.value);
        if (existing.size + fresh.size > MAX_REGEX_PER_LIST) {
          throw new BusinessError(
            'WhitelistRegexLimit',
            `A regular-expression whitelist holds at most ${MAX_REGEX_PER_LIST} expressions; this one has ${existing.size}, so at most ${MAX_REGEX_PER_LIST - existing.size} more can be added. Nothing was added.`,
          );
        }
      }
    }
    const added = await store.insertValues(trx, this.deps.db.dialect, list.id, [...fresh]);
    // a regex list is small and always read whole
    return { successNum, failNum: 0, failUserIds: '', added, logged: null };
  }

  /** Removes one id (normal list) or one expression (regex list); the value is trimmed as when it was stored. */
  async removeValue(s: Scope, rawId: string, rawValue: string): Promise<string> {
    const value = rawValue.trim();
    return this.change(s, async (trx) => {
      const list = await this.mustGet(trx, s, rawId);
      if (!value || !(await store.deleteValue(trx, list.id, value))) {
        throw new BusinessError('WhitelistValueNotFound', `Whitelist ${list.id} does not contain "${value.slice(0, 64)}".`);
      }
      await store.touch(trx, list.id, this.deps.now(), -1, [{ value, added: false }]);
      return value;
    });
  }

  private checkImportSize(n: number): void {
    const max = this.deps.config.whitelists.importMaxIds;
    if (n > max) throw new BusinessError('WhitelistImportTooLarge', `One call adds at most ${max} ids; split the input. Nothing was added.`);
  }
}

function checkName(raw: string): string {
  const name = raw.trim();
  if (!name) throw new BusinessError('InvalidWhitelistName', 'WhiteListName must not be empty.');
  if (name.length > MAX_NAME_LENGTH) throw new BusinessError('InvalidWhitelistName', `WhiteListName has at most ${MAX_NAME_LENGTH} characters.`);
  if (CONTROL_CHARS.test(name)) throw new BusinessError('InvalidWhitelistName', 'WhiteListName must not contain control characters.');
  return name;
}

class FailList {
  count = 0;
  private shown: string[] = [];
  private chars = 0;

  add(p: Piece): void {
    this.count++;
    const s = shownId(p);
    if (this.shown.length < FAIL_LIST_MAX_IDS && this.chars + s.length + 1 <= FAIL_LIST_MAX_CHARS) {
      this.shown.push(s);
      this.chars += s.length + 1;
    }
  }

  text(): string {
    return this.shown.join(',');
  }
}

function failList(pieces: Piece[]): string {
  const f = new FailList();
  for (const p of pieces) f.add(p);
  return f.text();
}

const asAdded = (values: string[]) => values.map((value) => ({ value, added: true }));

async function* toAsync<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}
