/**
 * A whole offline-package release through the official Alibaba Cloud runtime
 * (@alicloud/openapi-core, ACS3-HMAC-SHA256), against a running mcube server:
 *
 *   vhost -> RSA key -> H5 app -> upload -> package -> whitelist ->
 *   gray task on that whitelist -> official task -> pause -> continue -> end
 *
 * Run:  MPAAS_AK_ENV=<AccessKey id> MPAAS_SK_ENV=<secret> npx tsx examples/release-with-openapi-core.ts
 * Optional: MCUBE_ENDPOINT (as the mcube command takes it: a URL, or host:port for HTTPS;
 * default http://127.0.0.1:8080), MPAAS_APP_ID (ALIPUB0000001), MPAAS_WORKSPACE_ID (default),
 * MPAAS_TENANT_ID (TENANT01), MCUBE_H5_ID (77777777),
 * MCUBE_VHOST (h5app.com). It needs nothing but the vendor runtime and Node.
 */
import OpenApi, { $OpenApiUtil } from '@alicloud/openapi-core';
import * as $dara from '@darabonba/typescript';
import { generateKeyPairSync } from 'node:crypto';
import { crc32 } from 'node:zlib';

const env = process.env;
const accessKeyId = env.MPAAS_AK_ENV;
const accessKeySecret = env.MPAAS_SK_ENV;
if (!accessKeyId || !accessKeySecret) {
  console.error('Set MPAAS_AK_ENV and MPAAS_SK_ENV to an AccessKey id and secret.');
  process.exit(2);
}
// the vendor runtime takes host:port and a protocol; MCUBE_ENDPOINT is read as the mcube command reads it
// (a bare host:port is HTTPS, as the vendor's clients default to)
const given = env.MCUBE_ENDPOINT || 'http://127.0.0.1:8080';
const url = new URL(/^https?:\/\//i.test(given) ? given : `https://${given}`);
const endpoint = url.host;
const protocol = url.protocol === 'https:' ? 'HTTPS' : 'HTTP';
const common = {
  AppId: env.MPAAS_APP_ID || env.MCUBE_APP_ID || 'ALIPUB0000001',
  WorkspaceId: env.MPAAS_WORKSPACE_ID || env.MCUBE_WORKSPACE_ID || 'default',
  TenantId: env.MPAAS_TENANT_ID || env.MCUBE_TENANT_ID || 'TENANT01',
};
const h5Id = env.MCUBE_H5_ID || '77777777';

// A CommonJS module: under plain Node ESM the class sits on `default`.
const OpenApiClient = (OpenApi as any).default ?? OpenApi;
const client = new OpenApiClient(new $OpenApiUtil.Config({ accessKeyId, accessKeySecret, endpoint, protocol }));

/** One RPC call; returns the action's result object, or throws when ResultCode is not OK. */
async function call(action: string, resultKey: string, body: Record<string, unknown> = {}): Promise<any> {
  const params = new $OpenApiUtil.Params({
    action,
    version: '2020-10-28',
    protocol: 'HTTPS',
    pathname: '/',
    method: 'POST',
    authType: 'AK',
    style: 'RPC',
    reqBodyType: 'formData',
    bodyType: 'json',
  });
  const res = await client.callApi(params, new $OpenApiUtil.OpenApiRequest({ body: { ...common, ...body } }), new $dara.RuntimeOptions({}));
  const answer = res.body;
  if (answer.ResultCode !== 'OK') throw new Error(`${action} failed: ${answer.ResultCode} ${answer.ResultMessage}`);
  return answer[resultKey];
}

function step(what: string, detail = ''): void {
  console.log(`ok  ${what}${detail ? `: ${detail}` : ''}`);
}

/** A minimal .zip (stored, no compression) of the given files, enough for an offline package. */
function zipOf(files: Record<string, string>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text);
    const fname = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(fname.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(fname.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, fname, data);
    centrals.push(central, fname);
    offset += local.length + fname.length + data.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length / 2, 8);
  end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

/** GetMcubeFileToken, then the browser-style POST form it describes; returns the FileUrl. */
async function upload(filename: string, data: Buffer): Promise<string> {
  const { FileToken: token } = await call('GetMcubeFileToken', 'GetFileTokenResult', { OnexFlag: true });
  const form = new FormData();
  for (const [k, v] of Object.entries(token.FormFields as Record<string, string>)) form.append(k, k === 'key' ? v.split('${filename}').join(filename) : v);
  form.append('file', new Blob([data]), filename);
  const res = await fetch(token.Host, { method: 'POST', body: form });
  if (res.status < 200 || res.status > 299) throw new Error(`upload of ${filename} failed: HTTP ${res.status} ${await res.text()}`);
  const location = res.headers.get('location');
  if (!location) throw new Error('the upload answer has no Location header');
  return location;
}

async function main(): Promise<void> {
  const now = new Date();
  const stamp = now.toISOString().replace(/\D/g, '');
  const version = `1.${stamp.slice(0, 8)}.${stamp.slice(8, 14)}`;

  await call('CreateMcubeVhost', 'CreateVhostResult', { Vhost: env.MCUBE_VHOST || 'h5app.com' });
  step('vhost', (await call('QueryMcubeVhost', 'QueryVhostResult')).Data);

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  await call('UploadMcubeRsaKey', 'UploadRsaResult', { FileUrl: await upload('private_key.pem', Buffer.from(pem)), OnexFlag: true });
  step('RSA key uploaded', (await call('ExistMcubeRsaKey', 'CheckRsaKeyResult')).Data);

  const apps = await call('ListMcubeNebulaApps', 'ListMcubeNebulaAppsResult', { Keyword: h5Id });
  if (!apps.NebulaAppInfos.some((a: { H5Id: string }) => a.H5Id === h5Id)) {
    await call('CreateMcubeNebulaApp', 'CreateNebulaAppResult', { H5Id: h5Id, H5Name: 'example' });
  }
  step('H5 app', h5Id);

  const zip = zipOf({
    [`${h5Id}/www/index.html`]: `<!DOCTYPE html><html><body>version ${version}</body></html>`,
    [`${h5Id}/www/app.js`]: 'console.log("offline");',
  });
  const fileUrl = await upload(`${h5Id}.zip`, zip);
  step('package uploaded', `${zip.length} bytes`);

  const created = await call('CreateMcubeNebulaResource', 'CreateMcubeNebulaResourceReslult', {
    H5Id: h5Id,
    H5Name: 'example',
    H5Version: version,
    ResourceType: 1,
    Platform: 'all',
    ClientVersionMin: '1.0.0;1.0.0',
    ClientVersionMax: '',
    FileUrl: fileUrl,
    MainUrl: '/www/index.html',
    ExtendInfo: '{"asyncReqRate":"1800"}',
    AutoInstall: 1,
    InstallType: 1,
    OnexFlag: true,
  });
  const packageId = created.NebulaResourceId as string;
  const listed = await call('ListMcubeNebulaResources', 'ListMcubeNebulaResourceResult', { H5Id: h5Id });
  const info = listed.NebulaResourceInfo.find((r: { Id: number }) => String(r.Id) === packageId);
  step('package created', `id ${packageId}, version ${version}, md5 ${info.Md5}`);

  const whitelist = await call('CreateMcubeWhitelist', 'CreateWhitelistResult', { WhiteListName: `example-${stamp}`, WhitelistType: 'normal' });
  const added = await call('UpdateMcubeWhitelist', 'AddWhitelistResult', { Id: String(whitelist.WhitelistId), KeyIds: 'tester-1,tester-2', OnexFlag: true });
  step('whitelist', `id ${whitelist.WhitelistId}, ${added.AddWhitelistInfo.SuccessNum} users`);

  const gray = await call('CreateMcubeNebulaTask', 'CreateMcubeNebulaTaskResult', {
    Id: 0,
    PackageId: packageId,
    BizType: 'nebula',
    PublishType: 2,
    PublishMode: 1,
    WhitelistIds: String(whitelist.WhitelistId),
    Memo: 'testers first',
  });
  step('gray task on the whitelist', `task ${gray.NebulaTaskId}`);

  const official = await call('CreateMcubeNebulaTask', 'CreateMcubeNebulaTaskResult', { Id: 0, PackageId: packageId, BizType: 'nebula', PublishType: 3, Memo: 'everyone' });
  const taskId = official.NebulaTaskId as string;
  step('official task', `task ${taskId}`);

  const change = (taskStatus: number, id = taskId) =>
    call('ChangeMcubeNebulaTaskStatus', 'ChangeMcubeNebulaTaskStatusResult', { BizType: 'nebula', TaskId: id, PackageId: packageId, TaskStatus: taskStatus });
  const periodNow = async () => (await call('GetMcubeNebulaTaskDetail', 'GetMcubeNebulaTaskDetailResult', { TaskId: taskId })).NebulaTaskDetail.PublishPeriod;
  step('publish period while official', String(await periodNow()));
  await change(3);
  step('paused', `publish period ${await periodNow()}`);
  await change(1);
  step('continued', `publish period ${await periodNow()}`);
  await change(2);
  await change(2, gray.NebulaTaskId);
  const tasks = await call('ListMcubeNebulaTasks', 'ListMcubeNebulaTaskResult', { Id: packageId });
  step('ended', tasks.NebulaTaskInfo.map((t: { Id: number; TaskStatus: number }) => `task ${t.Id} status ${t.TaskStatus}`).join(', '));
  console.log(`release of ${h5Id} ${version} finished (publish period ${await periodNow()})`);
}

main().catch((err: Error & { code?: string }) => {
  console.error(`release failed: ${err.code ? `${err.code} ` : ''}${err.message}`);
  process.exit(1);
});
