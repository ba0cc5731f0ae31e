import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionContext } from '../../packages/server/src/core/registry.js';
import { resolveUploadedObject } from '../../packages/server/src/features/storage/index.js';
import { startS3rver, type RunningS3rver } from '../helpers/s3rver.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { uploadWithToken, type FileToken } from '../helpers/upload.js';
import { openapiCore } from '../helpers/vendor-clients.js';

const MAX = 64 * 1024;

for (const driver of ['local', 's3'] as const) {
  describe(`upload flow, ${driver} driver`, () => {
    let s3: RunningS3rver | undefined;
    let srv: TestServer;
    beforeAll(async () => {
      if (driver === 's3') s3 = await startS3rver();
      srv = await startTestServer({ ...(s3?.env ?? {}), MCUBE_UPLOAD_MAX_BYTES: String(MAX) });
    });
    afterAll(async () => {
      await srv?.close();
      await s3?.close();
    });

    const ctx = (): ActionContext => ({
      requestId: 'test',
      tenantId: srv.creds.tenantId,
      accessKeyId: srv.creds.accessKeyId,
      appId: srv.creds.appId,
      workspaceId: srv.creds.workspaceId,
      deps: srv.node.deps,
    });

    const getToken = async (): Promise<FileToken> => {
      const call = openapiCore(srv.host, srv.creds);
      const r = await call('GetMcubeFileToken', { AppId: srv.creds.appId, WorkspaceId: srv.creds.workspaceId, TenantId: srv.creds.tenantId, OnexFlag: true });
      expect(r.statusCode).toBe(200);
      expect(r.body.ResultCode).toBe('OK');
      expect(r.body.GetFileTokenResult.Success).toBe(true);
      return r.body.GetFileTokenResult.FileToken;
    };

    it('GetMcubeFileToken answers the vendor FileToken shape with a SigV4 POST policy', async () => {
      const t = await getToken();
      expect(Object.keys(t).sort()).toEqual(['Accessid', 'Dir', 'Expire', 'FormFields', 'Host', 'Policy', 'Signature']);
      expect(t.Dir).toMatch(/^uploads\/TENANT01\/ALIPUB0000001\/default\/[0-9a-f-]{36}\/$/);
      expect(t.Expire).toMatch(/^\d{10}$/);
      const nowSec = Date.now() / 1000;
      expect(Number(t.Expire)).toBeGreaterThan(nowSec + 3500);
      expect(Number(t.Expire)).toBeLessThanOrEqual(Math.ceil(nowSec) + 3600);
      expect(t.FormFields.key).toBe(`${t.Dir}\${filename}`);
      expect(Object.keys(t.FormFields)[0]).toBe('key');
      expect(t.FormFields.Policy).toBe(t.Policy);
      expect(t.FormFields['X-Amz-Signature']).toBe(t.Signature);
      expect(t.Signature).toMatch(/^[0-9a-f]{64}$/);
      expect(t.FormFields['X-Amz-Credential']!.split('/')[0]).toBe(t.Accessid);
      expect(t.Accessid).toBe(driver === 'local' ? 'mcube-local' : 'S3RVER');
      expect(t.Host).toBe(driver === 'local' ? `${srv.url}/_storage/obj` : `${s3!.endpoint}/${s3!.bucket}`);
      const policy = JSON.parse(Buffer.from(t.Policy, 'base64').toString('utf8'));
      expect(Date.parse(policy.expiration) / 1000).toBe(Number(t.Expire));
      const conds = policy.conditions.map((c: unknown) => JSON.stringify(c).toLowerCase());
      expect(conds).toContain(JSON.stringify(['starts-with', '$key', t.Dir]).toLowerCase());
      expect(conds).toContain(JSON.stringify(['content-length-range', 1, MAX]));
      expect(conds).toContain(JSON.stringify({ bucket: driver === 'local' ? 'mcube' : s3!.bucket }));
      for (const f of ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date']) expect(conds.some((c: string) => c.startsWith(`{"${f}"`))).toBe(true);
    });

    it('upload with the token, resolve the FileUrl, download the same bytes', async () => {
      const t = await getToken();
      const data = randomBytes(5000);
      const fileUrl = await uploadWithToken(t, 'pkg one.amr', data);
      const key = `${t.Dir}pkg one.amr`;
      const { blobs } = srv.node.deps;
      expect(blobs.keyFromUrl(fileUrl)).toBe(key);
      if (driver === 'local') expect(fileUrl).toBe(blobs.urlForKey(key));
      expect(await resolveUploadedObject(srv.node.deps, ctx(), fileUrl, { maxBytes: MAX })).toEqual({ key, size: 5000 });
      await expect(resolveUploadedObject(srv.node.deps, ctx(), fileUrl, { maxBytes: 4999 })).rejects.toMatchObject({ code: 'FileTooLarge' });

      const url = await blobs.downloadUrl(key);
      if (driver === 'local') expect(url).toMatch(/\/_storage\/obj\/.+\?X-Mcube-Expires=\d+&X-Mcube-Signature=[0-9a-f]{64}$/);
      else expect(url).toContain('X-Amz-Signature=');
      const got = await fetch(url);
      expect(got.status).toBe(200);
      expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);
      if (driver === 'local') expect(got.headers.get('content-type')).toBe('application/octet-stream');
      else expect(got.headers.get('content-disposition')).toBe('attachment');
    });

    it('an upload whose form claims text/html is never served as a page', async () => {
      const t = await getToken();
      const fields = Object.entries(t.FormFields).map(([k, v]): [string, string] => [k, k === 'key' ? `${t.Dir}x.html` : v]);
      const form = new FormData();
      for (const [k, v] of [...fields, ['Content-Type', 'text/html'] as [string, string]]) form.append(k, v);
      form.append('file', new Blob(['<script>alert(document.domain)</script>']), 'x.html');
      const posted = await fetch(t.Host, { method: 'POST', body: form });
      expect(posted.status, await posted.text()).toBeLessThan(300);
      const got = await fetch(await srv.node.deps.blobs.downloadUrl(`${t.Dir}x.html`));
      expect(got.status).toBe(200);
      // local: served by extension from a fixed set, never text/html; S3: stored as the form said, but an attachment
      if (driver === 'local') expect(got.headers.get('content-type')).not.toMatch(/html/);
      else expect(got.headers.get('content-disposition')).toBe('attachment');
    });

    it('a FileUrl whose object was never uploaded is FileNotFound', async () => {
      const t = await getToken();
      const url = srv.node.deps.blobs.urlForKey(`${t.Dir}never.amr`);
      await expect(resolveUploadedObject(srv.node.deps, ctx(), url, {})).rejects.toMatchObject({ code: 'FileNotFound' });
    });

    it('a configured public base serves downloads as <base>/<key>', async () => {
      const base = 'https://cdn.example.com/mds';
      const { storage } = srv.node.deps.config;
      storage.downloadBaseUrl = base;
      try {
        expect(await srv.node.deps.blobs.downloadUrl('uploads/a b/c.amr')).toBe(`${base}/uploads/a%20b/c.amr`);
      } finally {
        storage.downloadBaseUrl = null;
      }
    });
  });
}
