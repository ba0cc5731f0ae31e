import type { ActionDef } from '../../core/registry.js';

export const whitelistActions: ActionDef<any>[] = [];
