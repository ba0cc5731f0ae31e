import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { openapiCore } from './vendor-clients.js';
import type { TestServer } from './server.js';
import { uploadWithToken, type FileToken } from './upload.js';

// yazl is a dependency of the server package only; load it from there.
const requireFromServer = createRequire(new URL('../../packages/server/package.json', import.meta.url));
interface YazlZipFile {
  addBuffer(data: Buffer, name: string, options?: { mtime?: Date; compress?: boolean }): void;
  end(): void;
  outputStream: NodeJS.ReadableStream;
}
const yazl = requireFromServer('yazl') as { ZipFile: new () => YazlZipFile };

/** A normal package's files when none are given. */
export const DEFAULT_H5_FILES: Record<string, string> = {
  'www/index.html': '<!DOCTYPE html><html><body>hello</body></html>',
  'www/js/app.js': 'console.log("hi");',
};

/** A .zip laid out as the console expects: every file below the 8-digit top folder `<h5Id>/`. */
export async function makeH5Zip(h5Id: string, files: Record<string, string | Buffer> = DEFAULT_H5_FILES): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of Object.entries(files)) {
    zip.addBuffer(typeof data === 'string' ? Buffer.from(data) : data, `${h5Id}/${name}`, { mtime: new Date('2024-01-02T03:04:05Z') });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export type Call = (action: string, body?: Record<string, unknown>) => Promise<any>;

/** The official runtime (ACS3) with AppId/WorkspaceId/TenantId filled in; returns the JSON body. */
export function mcube(srv: TestServer, creds: { accessKeyId: string; accessKeySecret: string; appId: string; workspaceId: string; tenantId: string } = srv.creds): Call {
  const call = openapiCore(srv.host, creds);
  return async (action, body = {}) => (await call(action, { AppId: creds.appId, WorkspaceId: creds.workspaceId, TenantId: creds.tenantId, ...body })).body;
}

/** Uploads bytes through GetMcubeFileToken and the POST form; returns the FileUrl. */
export async function uploadFile(call: Call, filename: string, data: Buffer): Promise<string> {
  const r = await call('GetMcubeFileToken', { OnexFlag: true });
  if (r.ResultCode !== 'OK') throw new Error(`GetMcubeFileToken failed: ${JSON.stringify(r)}`);
  return uploadWithToken(r.GetFileTokenResult.FileToken as FileToken, filename, data);
}

export function rsaKeyPair(bits = 2048): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return {
    privatePem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export interface PublishOptions {
  h5Id?: string;
  h5Name?: string;
  version?: string;
  /** files below the H5 id folder (default DEFAULT_H5_FILES) */
  files?: Record<string, string | Buffer>;
  platform?: string;
  clientVersionMin?: string;
  clientVersionMax?: string;
  mainUrl?: string;
  /** 1 normal (default) or 0 global */
  resourceType?: 0 | 1;
  vhost?: string;
  extendInfo?: string;
  /** create the H5 app first with CreateMcubeNebulaApp (default true) */
  createApp?: boolean;
  /** any further CreateMcubeNebulaResource fields */
  extra?: Record<string, unknown>;
}

export interface Published {
  call: Call;
  h5Id: string;
  version: string;
  /** NebulaResourceId as a number (the wire carries a string) */
  resourceId: number;
  fileUrl: string;
  zip: Buffer;
  /** the whole CreateMcubeNebulaResource answer */
  body: any;
  /** the package as ListMcubeNebulaResources shows it (DownloadUrl, Md5, FileSize, Memo = h5.json address ...) */
  info: any;
}

/**
 * Sets the vhost (o.vhost, or h5app.com when none is configured yet), creates
 * the H5 app, uploads a zip and creates one package.
 * Throws when the package is refused. Call it several times with new versions
 * for an H5 app's history.
 */
export async function publishFixture(srv: TestServer, o: PublishOptions = {}): Promise<Published> {
  const call = mcube(srv);
  const h5Id = o.h5Id ?? '12345678';
  const version = o.version ?? '1.0.0.0';
  if (o.vhost || !(await call('QueryMcubeVhost')).QueryVhostResult.Data) await call('CreateMcubeVhost', { Vhost: o.vhost ?? 'h5app.com' });
  if (o.createApp ?? true) {
    const apps = await call('ListMcubeNebulaApps', { Keyword: h5Id });
    if (!apps.ListMcubeNebulaAppsResult.NebulaAppInfos.some((a: { H5Id: string }) => a.H5Id === h5Id)) {
      const r = await call('CreateMcubeNebulaApp', { H5Id: h5Id, H5Name: o.h5Name ?? `app ${h5Id}` });
      if (r.ResultCode !== 'OK') throw new Error(`CreateMcubeNebulaApp failed: ${JSON.stringify(r)}`);
    }
  }
  const zip = await makeH5Zip(h5Id, o.files ?? DEFAULT_H5_FILES);
  const fileUrl = await uploadFile(call, `${h5Id}.zip`, zip);
  const platform = o.platform ?? 'all';
  const min = o.clientVersionMin ?? (platform.toLowerCase() === 'android' ? ';1.0.0' : platform.toLowerCase() === 'ios' ? '1.0.0;' : '1.0.0;1.0.0');
  const body = await call('CreateMcubeNebulaResource', {
    H5Id: h5Id,
    H5Name: o.h5Name ?? `app ${h5Id}`,
    H5Version: version,
    ResourceType: o.resourceType ?? 1,
    Platform: platform,
    ClientVersionMin: min,
    ClientVersionMax: o.clientVersionMax ?? '',
    FileUrl: fileUrl,
    MainUrl: o.mainUrl ?? (o.resourceType === 0 ? '' : '/www/index.html'),
    ExtendInfo: o.extendInfo ?? '',
    AutoInstall: 1,
    InstallType: 1,
    ...(o.resourceType === 0 ? { RepeatNebula: 0 } : {}),
    OnexFlag: true,
    ...o.extra,
  });
  if (body.ResultCode !== 'OK') throw new Error(`CreateMcubeNebulaResource failed: ${JSON.stringify(body)}`);
  const resourceId = Number(body.CreateMcubeNebulaResourceReslult.NebulaResourceId);
  const info = (await call('GetMcubeNebulaResource', { Id: String(resourceId) })).GetNebulaResourceResult.NebulaResourceInfo;
  return { call, h5Id, version, resourceId, fileUrl, zip, body, info };
}

/** Creates a release task; returns its id (a number) or throws with the answer. */
export async function createTask(call: Call, packageId: number, fields: Record<string, unknown> = { PublishType: 3 }): Promise<number> {
  const r = await call('CreateMcubeNebulaTask', { Id: 0, PackageId: packageId, BizType: 'nebula', ...fields });
  if (r.ResultCode !== 'OK') throw new Error(`CreateMcubeNebulaTask failed: ${JSON.stringify(r)}`);
  return Number(r.CreateMcubeNebulaTaskResult.NebulaTaskId);
}

export async function setTaskStatus(call: Call, taskId: number, status: number, packageId?: number): Promise<any> {
  return call('ChangeMcubeNebulaTaskStatus', { BizType: 'nebula', TaskId: String(taskId), TaskStatus: status, ...(packageId ? { PackageId: String(packageId) } : {}) });
}

/** "yyyy-MM-dd HH:mm:ss" in UTC, `ms` from now (for GreyEndtimeData). */
export function utcIn(ms: number, now = Date.now()): string {
  return new Date(now + ms).toISOString().replace('T', ' ').slice(0, 19);
}

/** Row count of a table in the test server's database, optionally filtered. */
export async function countRows(srv: TestServer, table: string, where: Record<string, unknown> = {}): Promise<number> {
  const r = await srv.node.deps.db.knex(table).where(where).count({ n: '*' });
  return Number((r[0] as { n: unknown }).n);
}
