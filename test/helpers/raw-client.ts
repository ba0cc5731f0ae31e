import { request } from 'node:http';
import { isoNow, signAcs3, signV1 } from './signing.js';

/**
 * Signed calls for tests that must send what the vendor clients never would
 * (stale dates, reused nonces, tampered bodies), over node:http. The signing
 * itself is test/helpers/signing.ts, written from the reference recipe,
 * independently of the server's verifier.
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

export { isoNow };

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
  const signed = signAcs3(call, call.action, call.params, { date: call.date, nonce: call.nonce, version: call.version });
  let body = signed.body.toString('utf8');
  if (call.tamperBody) body = call.tamperBody(body);
  if (call.bodyBytes) body = body + '&Pad=' + 'x'.repeat(Math.max(0, call.bodyBytes - body.length - 5));
  const headers = Object.fromEntries(signed.headers);
  headers['content-length'] = String(Buffer.byteLength(body));
  return send(call.host, 'POST', '/', headers, body);
}

export function v1(call: RawCall & { method?: 'GET' | 'POST' }): Promise<RawResponse> {
  const signed = signV1(call, call.action, call.params, call.method ?? 'GET', { date: call.date, nonce: call.nonce, version: call.version });
  return send(call.host, signed.method, signed.target, Object.fromEntries(signed.headers), signed.body.length ? signed.body : undefined);
}
