import type { ActionDef } from '../../core/registry.js';

export const storageActions: ActionDef<any>[] = [];
