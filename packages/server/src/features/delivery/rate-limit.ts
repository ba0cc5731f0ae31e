import type { IncomingMessage } from 'node:http';
import { ownCopy } from './text-cache.js';

export interface DeviceLimits {
  /** checks per device (user id, else device id, else address) per minute; 0: off */
  perDevicePerMin: number;
  /** checks per client address per minute; 0: off (mobile carriers put many phones behind one address) */
  perAddressPerMin?: number;
  /** proxies in front of the node whose X-Forwarded-For entries are trusted; 0: the socket's address is the client's */
  trustProxyHops?: number;
  /**
   * devices counted per window and workspace at most; a device first seen after that is counted under its
   * address instead, so a client inventing a new user id per request neither escapes the limit nor grows the
   * table without bound. Per workspace: a shared count let one tenant's public client key, filled with made-up
   * ids, put every other tenant's new devices on their addresses' budgets (all of them, behind a balancer).
   * The node as a whole tracks at most twice as many (a memory bound only several flooding workspaces reach).
   */
  maxDevices?: number;
}

export const MAX_TRACKED_DEVICES = 200_000;

/**
 * Device request limits of one node (the H5 package check and the upgrade
 * check share it), in memory: a fixed one-minute window. An abuse guard, not a
 * quota: with N nodes behind a balancer a device may get up to N times the
 * limit.
 */
export class DeviceRateLimiter {
  private window = -1;
  /** scope (app/workspace) -> device or "ip:<address>" -> requests in the current window */
  private counts = new Map<string, Map<string, number>>();
  /** entries of all scopes' tables */
  private tracked = 0;
  private addresses = new Map<string, number>();
  private readonly perDevice: number;
  private readonly perAddress: number;
  private readonly hops: number;
  private readonly maxDevices: number;

  constructor(
    limits: DeviceLimits | number,
    private readonly now: () => number,
  ) {
    const l = typeof limits === 'number' ? { perDevicePerMin: limits } : limits;
    this.perDevice = l.perDevicePerMin;
    this.perAddress = l.perAddressPerMin ?? 0;
    this.hops = l.trustProxyHops ?? 0;
    this.maxDevices = l.maxDevices ?? MAX_TRACKED_DEVICES;
  }

  /**
   * The client's address: the socket's, or with trusted proxies the
   * X-Forwarded-For entry the outermost trusted proxy saw (entries further
   * left were written by the client and prove nothing).
   */
  addressOf(req: IncomingMessage): string {
    const socket = req.socket.remoteAddress ?? '';
    if (this.hops <= 0) return socket;
    const header = req.headers['x-forwarded-for'];
    const text = Array.isArray(header) ? header.join(',') : header;
    if (!text) return socket;
    const hops = text.split(',');
    const entry = hops[Math.max(0, hops.length - this.hops)]!.trim();
    return entry || socket;
  }

  /**
   * Counts one request of a device (its user key, '' when it sent none) that
   * came over `req` (its address is read only when a limit needs it); false
   * when over a limit.
   */
  allow(scopeKey: string, userKey: string, req: IncomingMessage | null = null): boolean {
    if (this.perDevice <= 0 && this.perAddress <= 0) return true;
    const w = Math.floor(this.now() / 60_000);
    if (w !== this.window) {
      this.window = w;
      this.counts = new Map();
      this.addresses = new Map();
      this.tracked = 0;
    }
    let devices = this.counts.get(scopeKey);
    const full = (devices?.size ?? 0) >= this.maxDevices || this.tracked >= 2 * this.maxDevices;
    // the address is read once, and only when a limit looks at it (a device with an id, under the cap, never does)
    const address = req && (this.perAddress > 0 || userKey === '' || full) ? this.addressOf(req) : '';
    if (this.perAddress > 0) {
      const k = scopeKey + '\u0000' + address;
      const n = (this.addresses.get(k) ?? 0) + 1;
      // the address table is bounded by the number of clients, not by what they send
      this.addresses.set(k, n);
      if (n > this.perAddress) return false;
    }
    if (this.perDevice <= 0) return true;
    if (!devices) this.counts.set(scopeKey, (devices = new Map()));
    let key = userKey || 'ip:' + address;
    let seen = devices.get(key);
    if (seen === undefined && full) {
      key = 'ip:' + address;
      seen = devices.get(key);
    }
    if (seen === undefined) {
      this.tracked++;
      key = ownCopy(key);
    }
    const n = (seen ?? 0) + 1;
    devices.set(key, n);
    return n <= this.perDevice;
  }

  /** seconds until the current window ends */
  retryAfterSec(): number {
    return Math.max(1, Math.ceil((60_000 - (this.now() % 60_000)) / 1000));
  }
}
