import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { BlobStore } from './blob-store.js';
import type { SecretBox } from './crypto.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { JsonSchema } from './schema.js';

/** Process-wide dependencies handed to every action; features build their services from these. */
export interface Deps {
  config: Config;
  db: Database;
  log: Logger;
  box: SecretBox;
  blobs: BlobStore;
  now: () => number;
  /** this node's request counters (GET /metrics) */
  metrics: Metrics;
  /** called after a commit that changes what devices get; wakes local delivery snapshots */
  onDeliveryChange: (appId: string, workspaceId: string) => void;
}

export interface ActionContext {
  requestId: string;
  tenantId: string;
  accessKeyId: string;
  appId: string;
  workspaceId: string;
  deps: Deps;
}

export interface ActionDef<I = Record<string, any>> {
  /** vendor action name, e.g. CreateMcubeNebulaTask */
  name: string;
  summary: string;
  /** OpenAPI tag / feature group */
  tag: string;
  /** request form fields in wire names; values arrive as strings and are coerced */
  input: Record<string, JsonSchema>;
  required: string[];
  /** name of the action's result object in the response, e.g. CreateVhostResult */
  resultKey: string;
  /** schema of the result object (wire names) */
  result: JsonSchema;
  /** whether the action changes state (audited as a management action) */
  mutates: boolean;
  /** business error codes the handler may return (documented in OpenAPI) */
  errors?: string[];
  /** parameter names whose values never reach the audit log */
  secretParams?: string[];
  /** returns the result object; Success/ResultMsg/RequestId are filled in when absent */
  handler: (input: I, ctx: ActionContext) => Promise<Record<string, unknown>>;
}

export function defineAction<I = Record<string, any>>(def: ActionDef<I>): ActionDef<I> {
  return def;
}

export class ActionRegistry {
  private readonly byName = new Map<string, ActionDef<any>>();

  register(...defs: ActionDef<any>[]): this {
    for (const d of defs) {
      if (this.byName.has(d.name)) throw new Error(`action ${d.name} registered twice`);
      // the RPC layer puts Success and ResultMsg on every result object: a schema without them hid them from the
      // OpenAPI document and the SDK's types
      const props = (d.result as { properties?: Record<string, unknown> }).properties ?? {};
      const missing = ['Success', 'ResultMsg'].filter((k) => !(k in props));
      if (missing.length) throw new Error(`action ${d.name}: its result schema lacks ${missing.join(' and ')} (spread resultBase into it)`);
      this.byName.set(d.name, d);
    }
    return this;
  }

  get(name: string): ActionDef<any> | undefined {
    return this.byName.get(name);
  }

  all(): ActionDef<any>[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}
