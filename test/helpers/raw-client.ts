import { createHash, createHmac, randomBytes } from 'node:crypto';
import { request } from 'node:http';

/**
 * A hand-rolled signer for tests that must send what the vendor clients never
 * would (stale dates, reused nonces, tampered bodies). Written from the
 * reference recipe, independently of the server's verifier.
 */
export interface RawCall {
  host: string;
  action: string;
  params: Record<string, string>;
  accessKeyId: string;
  secret: string;
  date?: string;
  nonce?: string;
  version?: string;
  /** change the body after signing */
  tamperBody?: (body: string) => string;
  /** pad the body to this many bytes after signing */
  bodyBytes?: number;
}

const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const form = (p: Record<string, string>) =>
  Object.keys(p)
    .sort()
    .map((k) => `${enc(k)}=${enc(p[k]!)}`)
    .join('&');

export function isoNow(offsetMs = 0): string {
  return new Date(Date.now() + offsetMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

export function send(host: string, method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<RawResponse> {
  const [hostname, port] = host.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port: Number(port), method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: any;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export function acs3(call: RawCall): Promise<RawResponse> {
  let body = form(call.params);
  const headers: Record<string, string> = {
    host: call.host,
    'x-acs-action': call.action,
    'x-acs-version': call.version ?? '2020-10-28',
    'x-acs-date': call.date ?? isoNow(),
    'x-acs-signature-nonce': call.nonce ?? randomBytes(32).toString('hex'),
    'content-type': 'application/x-www-form-urlencoded',
    'x-acs-content-sha256': createHash('sha256').update(body).digest('hex'),
  };
  const names = Object.keys(headers).sort();
  const canonical = ['POST', '/', '', names.map((n) => `${n}:${headers[n]}\n`).join(''), names.join(';'), headers['x-acs-content-sha256']].join('\n');
  const sts = 'ACS3-HMAC-SHA256\n' + createHash('sha256').update(canonical).digest('hex');
  const sig = createHmac('sha256', call.secret).update(sts).digest('hex');
  headers.authorization = `ACS3-HMAC-SHA256 Credential=${call.accessKeyId},SignedHeaders=${names.join(';')},Signature=${sig}`;
  if (call.tamperBody) body = call.tamperBody(body);
  if (call.bodyBytes) body = body + '&Pad=' + 'x'.repeat(Math.max(0, call.bodyBytes - body.length - 5));
  headers['content-length'] = String(Buffer.byteLength(body));
  return send(call.host, 'POST', '/', headers, body);
}

export function v1(call: RawCall & { method?: 'GET' | 'POST' }): Promise<RawResponse> {
  const method = call.method ?? 'GET';
  const all: Record<string, string> = {
    Action: call.action,
    Format: 'JSON',
    Version: call.version ?? '2020-10-28',
    Timestamp: call.date ?? isoNow(),
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: call.nonce ?? randomBytes(16).toString('hex'),
    AccessKeyId: call.accessKeyId,
    ...call.params,
  };
  const sts = `${method}&%2F&${enc(form(all))}`;
  all.Signature = createHmac('sha1', call.secret + '&').update(sts).digest('base64');
  if (method === 'GET') return send(call.host, 'GET', '/?' + form(all), { host: call.host });
  const body = form(all);
  return send(call.host, 'POST', '/', { host: call.host, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) }, body);
}
