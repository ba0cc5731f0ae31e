import type { ActionDef } from '../../core/registry.js';
import { createMcubeNebulaApp, deleteMcubeNebulaApp, listMcubeNebulaApps } from './app-actions.js';
import { createMcubeNebulaResource, getMcubeNebulaResource, listMcubeNebulaResources } from './resource-actions.js';
import { miniActions } from './mini-actions.js';
import { existMcubeRsaKey, uploadMcubeRsaKey } from './rsa-key-actions.js';
import { changeMcubeNebulaTaskStatus, createMcubeNebulaTask, getMcubeNebulaTaskDetail, listMcubeNebulaTasks } from './task-actions.js';

export const nebulaActions: ActionDef<any>[] = [
  existMcubeRsaKey,
  uploadMcubeRsaKey,
  listMcubeNebulaApps,
  createMcubeNebulaApp,
  deleteMcubeNebulaApp,
  createMcubeNebulaResource,
  listMcubeNebulaResources,
  getMcubeNebulaResource,
  createMcubeNebulaTask,
  listMcubeNebulaTasks,
  getMcubeNebulaTaskDetail,
  changeMcubeNebulaTaskStatus,
  ...miniActions,
];
