import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Deps } from '../../core/registry.js';

export interface DeliveryService {
  /** handles /device/* requests; false when the path is not a device path */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  onChange(appId: string, workspaceId: string): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createDelivery(_deps: Deps): DeliveryService {
  return { handle: () => false, onChange: () => {}, start: async () => {}, stop: async () => {} };
}
