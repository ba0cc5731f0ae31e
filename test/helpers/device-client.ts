/** Minimal device-side client for the device endpoints (/device/nebula/update unless `path` says otherwise). */
export interface DeviceAnswer {
  status: number;
  headers: Headers;
  body: any;
}

export interface DeviceRequestOptions {
  method?: 'GET' | 'POST';
  /** POST body as JSON instead of a form */
  json?: boolean;
  /** client key in the x-mcube-client-key header (default) or as the clientKey field */
  keyIn?: 'header' | 'field' | 'none';
  clientKey?: string;
  /** another device endpoint, e.g. /device/config/pull */
  path?: string;
}

export async function deviceCheck(baseUrl: string, fields: Record<string, unknown>, o: DeviceRequestOptions = {}): Promise<DeviceAnswer> {
  const method = o.method ?? 'POST';
  const keyIn = o.keyIn ?? 'header';
  const all: Record<string, unknown> = { ...fields };
  if (keyIn === 'field' && o.clientKey) all.clientKey = o.clientKey;
  const headers: Record<string, string> = {};
  if (keyIn === 'header' && o.clientKey) headers['x-mcube-client-key'] = o.clientKey;
  const form = () =>
    new URLSearchParams(Object.entries(all).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)])).toString();
  let url = `${baseUrl}${o.path ?? '/device/nebula/update'}`;
  let body: string | undefined;
  if (method === 'GET') url += '?' + form();
  else if (o.json) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(all);
  } else {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = form();
  }
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** The `query` map of a device asking about some apps (version '' = not installed). */
export function queryOf(apps: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(apps).map(([id, version]) => [id, { app_id: id, version }])));
}

export const ALL = queryOf({ 'nebula-*-all': '0' });
