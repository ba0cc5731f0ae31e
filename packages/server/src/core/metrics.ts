import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * Per-node counters in the Prometheus text format (GET /metrics). Each node
 * counts its own requests; Prometheus scrapes every node and sums, so nothing
 * here needs to be shared. Labels carry no tenant, app or user: an action
 * name from the registry (anything else is "(unknown)"), a POP or result
 * code, an HTTP status, so their number stays bounded whatever clients send.
 * Recording is a map lookup and an increment, cheap enough for the device
 * endpoint's hot path.
 */

/** seconds */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

class Histogram {
  readonly counts = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

export type DeviceEndpointName = 'nebula' | 'upgrade' | 'config';

export interface MetricsSources {
  /** delivery snapshots (app/workspace) this node holds */
  deliverySnapshots?: () => number;
  /** database connection pools */
  dbPools?: () => ReadonlyArray<{ pool: string; max: number; used: number; idle: number; waiting: number }>;
}

/** sampling interval of the event-loop delay histogram */
const LOOP_SAMPLE_MS = 20;

export class Metrics {
  private readonly rpcCounts = new Map<string, number>();
  private readonly rpcLatency = new Map<string, Histogram>();
  /** endpoint -> HTTP status -> answers (no key string built per request: this is the device hot path) */
  private readonly deviceCounts = new Map<DeviceEndpointName, Map<number, number>>();
  private readonly deviceLatency = new Map<DeviceEndpointName, Histogram>();
  private snapshotBuilds = 0;
  private snapshotFailures = 0;
  private readonly whitelistLoads = { whole: 0, changes: 0 };
  private readonly buildLatency = new Histogram();
  /** started by the first scrape (a 20 ms libuv timer), so a node nobody scrapes and the admin command run none */
  private loopDelay: IntervalHistogram | null = null;
  sources: MetricsSources = {};

  /** One signed call: `action` is a registered action name, else "(unknown)". */
  rpc(action: string, status: number, code: string, seconds: number): void {
    const k = `${action}\u0000${status}\u0000${code}`;
    this.rpcCounts.set(k, (this.rpcCounts.get(k) ?? 0) + 1);
    let h = this.rpcLatency.get(action);
    if (!h) this.rpcLatency.set(action, (h = new Histogram()));
    h.observe(seconds);
  }

  /** One answered device request (nebula update check or upgrade check). */
  device(endpoint: DeviceEndpointName, status: number, seconds: number): void {
    let byStatus = this.deviceCounts.get(endpoint);
    if (!byStatus) this.deviceCounts.set(endpoint, (byStatus = new Map()));
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    let h = this.deviceLatency.get(endpoint);
    if (!h) this.deviceLatency.set(endpoint, (h = new Histogram()));
    h.observe(seconds);
  }

  snapshotBuilt(seconds: number): void {
    this.snapshotBuilds++;
    this.buildLatency.observe(seconds);
  }

  snapshotFailed(): void {
    this.snapshotFailures++;
  }

  /** A whitelist brought up to date for delivery: read whole, or from its change log. */
  whitelistLoaded(how: 'whole' | 'changes'): void {
    this.whitelistLoads[how]++;
  }

  stop(): void {
    this.loopDelay?.disable();
  }

  /** The Prometheus text exposition (version 0.0.4). Event-loop delay figures cover the time since the previous scrape. */
  render(): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

    family('mcube_rpc_requests_total', 'counter', 'OpenAPI calls answered, by action, HTTP status and POP or result code.');
    for (const [k, n] of this.rpcCounts) {
      const [action, status, code] = k.split('\u0000');
      out.push(`mcube_rpc_requests_total{action="${esc(action!)}",status="${status}",code="${esc(code!)}"} ${n}`);
    }
    family('mcube_rpc_request_duration_seconds', 'histogram', 'Time from request to answer of OpenAPI calls, by action.');
    for (const [action, h] of this.rpcLatency) histogramLines(out, 'mcube_rpc_request_duration_seconds', `action="${esc(action)}"`, h);

    family('mcube_device_requests_total', 'counter', 'Device checks answered, by endpoint and HTTP status.');
    for (const [endpoint, byStatus] of this.deviceCounts) {
      for (const [status, n] of byStatus) out.push(`mcube_device_requests_total{endpoint="${endpoint}",status="${status}"} ${n}`);
    }
    family('mcube_device_request_duration_seconds', 'histogram', 'Time from request to answer of device checks, by endpoint.');
    for (const [endpoint, h] of this.deviceLatency) histogramLines(out, 'mcube_device_request_duration_seconds', `endpoint="${endpoint}"`, h);

    family('mcube_delivery_snapshot_builds_total', 'counter', 'Delivery snapshots built on this node.');
    out.push(`mcube_delivery_snapshot_builds_total ${this.snapshotBuilds}`);
    family('mcube_whitelist_loads_total', 'counter', 'Whitelists brought up to date for delivery on this node: read whole, or by applying their logged changes.');
    for (const [how, n] of Object.entries(this.whitelistLoads)) out.push(`mcube_whitelist_loads_total{how="${how}"} ${n}`);
    family('mcube_delivery_snapshot_build_failures_total', 'counter', 'Delivery snapshot builds that failed (the previous snapshot kept serving).');
    out.push(`mcube_delivery_snapshot_build_failures_total ${this.snapshotFailures}`);
    family('mcube_delivery_snapshot_build_duration_seconds', 'histogram', 'Time to build a delivery snapshot.');
    histogramLines(out, 'mcube_delivery_snapshot_build_duration_seconds', '', this.buildLatency);
    if (this.sources.deliverySnapshots) {
      family('mcube_delivery_snapshots', 'gauge', 'Delivery snapshots (app and workspace) held in memory.');
      out.push(`mcube_delivery_snapshots ${this.sources.deliverySnapshots()}`);
    }

    if (this.sources.dbPools) {
      const pools = this.sources.dbPools();
      family('mcube_db_pool_connections', 'gauge', 'Database connections of this node by pool ("main": knex, "hot": per-request statements on PostgreSQL) and state.');
      for (const p of pools) out.push(`mcube_db_pool_connections{pool="${p.pool}",state="used"} ${p.used}`, `mcube_db_pool_connections{pool="${p.pool}",state="idle"} ${p.idle}`);
      family('mcube_db_pool_max_connections', 'gauge', 'Largest size of each pool.');
      for (const p of pools) out.push(`mcube_db_pool_max_connections{pool="${p.pool}"} ${p.max}`);
      family('mcube_db_pool_waiting', 'gauge', 'Callers waiting for a connection, by pool; above 0 for long, the pool is too small for the load.');
      for (const p of pools) out.push(`mcube_db_pool_waiting{pool="${p.pool}"} ${p.waiting}`);
    }

    const mem = process.memoryUsage();
    family('mcube_process_resident_memory_bytes', 'gauge', 'Resident set size of the node process.');
    out.push(`mcube_process_resident_memory_bytes ${mem.rss}`);
    family('mcube_process_heap_used_bytes', 'gauge', 'V8 heap in use.');
    out.push(`mcube_process_heap_used_bytes ${mem.heapUsed}`);
    family('mcube_process_uptime_seconds', 'gauge', 'Seconds since the node process started.');
    out.push(`mcube_process_uptime_seconds ${process.uptime().toFixed(3)}`);
    if (!this.loopDelay) {
      this.loopDelay = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
      this.loopDelay.enable();
    }
    const d = this.loopDelay;
    family('mcube_event_loop_delay_seconds', 'gauge', 'Event-loop delay since the previous scrape (20 ms sampling; 0 at the first scrape), by quantile.');
    for (const q of [0.5, 0.99, 1]) {
      const ns = d.count > 0 ? (q === 1 ? d.max : d.percentile(q * 100)) : 0;
      // node's samples are the time between two sampling timers, the sampling interval included: take it off
      const late = Math.max(0, ns - LOOP_SAMPLE_MS * 1e6);
      out.push(`mcube_event_loop_delay_seconds{quantile="${q}"} ${(late / 1e9).toFixed(6)}`);
    }
    d.reset();
    return out.join('\n') + '\n';
  }
}

function histogramLines(out: string[], name: string, labels: string, h: Histogram): void {
  const sep = labels ? `${labels},` : '';
  let cumulative = 0;
  for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
    cumulative += h.counts[i]!;
    out.push(`${name}_bucket{${sep}le="${LATENCY_BUCKETS[i]}"} ${cumulative}`);
  }
  out.push(`${name}_bucket{${sep}le="+Inf"} ${h.count}`);
  const braces = labels ? `{${labels}}` : '';
  out.push(`${name}_sum${braces} ${h.sum.toFixed(6)}`, `${name}_count${braces} ${h.count}`);
}

/** label values: backslash, double quote and newline escaped, as the format requires */
const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
