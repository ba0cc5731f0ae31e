import type { Command } from '../command.js';
import { apiCommand } from './api.js';
import { configCommands } from './config.js';
import { keyCommands } from './key.js';
import { miniPackages, miniPublish, miniTaskCommands, miniTasks } from './mini.js';
import { nebulaApps, nebulaResources, nebulaTasks } from './nebula-lists.js';
import { nebulaPack } from './nebula-pack.js';
import { nebulaPublish, nebulaRelease } from './nebula-publish.js';
import { taskCommands } from './task.js';
import { upgradeCommands } from './upgrade.js';
import { vhostCommands } from './vhost.js';
import { whitelistCommands } from './whitelist.js';

export const COMMANDS: Command[] = [
  nebulaPack,
  nebulaPublish,
  nebulaRelease,
  nebulaApps,
  nebulaResources,
  nebulaTasks,
  ...taskCommands,
  miniPublish,
  miniPackages,
  miniTasks,
  ...miniTaskCommands,
  ...vhostCommands,
  ...keyCommands,
  ...whitelistCommands,
  ...upgradeCommands,
  ...configCommands,
  apiCommand,
];

export const GROUPS: Record<string, string> = {
  nebula: 'offline packages: pack, publish, release, list',
  task: 'release tasks: show, start, pause, continue, end',
  mini: 'mini programs: publish, list packages and tasks, start, pause, continue, end',
  vhost: 'virtual domain of the offline packages',
  key: 'RSA key that signs the offline packages',
  whitelist: 'gray-release whitelists',
  upgrade: 'app upgrade packages (APK / IPA / HAP, App Store, TestFlight) and their release tasks',
  config: 'switch configuration: keys and values devices pull from /device/config/pull',
};
