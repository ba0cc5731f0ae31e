import type { ActionDef } from '../../core/registry.js';

export const nebulaActions: ActionDef<any>[] = [];
