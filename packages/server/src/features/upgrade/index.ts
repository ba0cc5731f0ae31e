import type { ActionDef } from '../../core/registry.js';
import { createMcubeUpgradePackage, deleteMcubeUpgradeResource, getMcubeUpgradePackageInfo, listMcubeUpgradePackages } from './package-actions.js';
import { createMcubeUpgradeTask, getMcubeUpgradeTaskInfo, listMcubeUpgradeTasks, queryMdsUpgradeTaskDetail } from './task-actions.js';

export const upgradeActions: ActionDef<any>[] = [
  createMcubeUpgradePackage,
  listMcubeUpgradePackages,
  getMcubeUpgradePackageInfo,
  deleteMcubeUpgradeResource,
  createMcubeUpgradeTask,
  listMcubeUpgradeTasks,
  getMcubeUpgradeTaskInfo,
  queryMdsUpgradeTaskDetail,
];
