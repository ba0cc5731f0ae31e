import { ActionRegistry } from './core/registry.js';
import { nebulaActions } from './features/nebula/index.js';
import { storageActions } from './features/storage/actions.js';
import { switchActions } from './features/switches/switch-actions.js';
import { upgradeActions } from './features/upgrade/index.js';
import { vhostActions } from './features/vhost/vhost-actions.js';
import { whitelistActions } from './features/whitelists/index.js';

/** The one explicit list of actions: feeds the router, the OpenAPI document and the SDK. */
export function buildRegistry(): ActionRegistry {
  return new ActionRegistry().register(...vhostActions, ...storageActions, ...nebulaActions, ...whitelistActions, ...upgradeActions, ...switchActions);
}
