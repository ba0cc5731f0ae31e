import { createVerify } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_H5_FILES, mcube, publishFixture, rsaKeyPair, uploadFile } from '../helpers/nebula.js';
import { startS3rver } from '../helpers/s3rver.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { parseTar, readZip } from '../packages/zip-fixtures.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

async function downloadAmr(url: string): Promise<Map<string, Buffer>> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const path = join(srv.env.dataDir, `dl-${Date.now()}.amr`);
  await writeFile(path, Buffer.from(await res.arrayBuffer()));
  return new Map((await readZip(path)).map((e) => [e.name, e.data]));
}

it('the produced .amr is signed with the uploaded key (SHA1withRSA over the tar and Manifest.xml) and carries the uploaded files', async () => {
  const call = mcube(srv);
  const { privatePem, publicPem } = rsaKeyPair();
  expect((await call('UploadMcubeRsaKey', { FileUrl: await uploadFile(call, 'k.pem', Buffer.from(privatePem)), OnexFlag: true })).ResultCode).toBe('OK');
  const files = {
    'www/index.html': '<html><body>signed</body></html>',
    'www/css/site.css': 'body{color:red}',
    'www/img/logo.bin': Buffer.from([0, 1, 2, 3, 255, 254]),
  };
  const p = await publishFixture(srv, { h5Id: '70000001', version: '1.2.3.4', files });
  expect(p.body.CreateMcubeNebulaResourceReslult.ResultMsg).toBe('');
  const list = await p.call('ListMcubeNebulaResources', { H5Id: p.h5Id });
  const amr = await downloadAmr(list.ListMcubeNebulaResourceResult.NebulaResourceInfo[0].DownloadUrl);
  expect([...amr.keys()].sort()).toEqual(['70000001.tar', 'CERT.json', 'Manifest.xml']);

  const cert = JSON.parse(amr.get('CERT.json')!.toString('utf8'));
  for (const name of ['70000001.tar', 'Manifest.xml']) {
    expect(cert[name], name).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const ok = createVerify('RSA-SHA1').update(amr.get(name)!).verify(publicPem, cert[name], 'base64');
    expect(ok, name).toBe(true);
  }
  // a different key does not verify: the signature really is bound to the uploaded key
  expect(createVerify('RSA-SHA1').update(amr.get('Manifest.xml')!).verify(rsaKeyPair(1024).publicPem, cert['Manifest.xml'], 'base64')).toBe(false);
  expect(amr.get('Manifest.xml')!.toString()).toContain('<version>1.2.3.4</version>');

  const tar = parseTar(amr.get('70000001.tar')!).entries.filter((e) => e.type === '0' || e.type === '\0');
  const got = new Map(tar.filter((e) => e.name !== 'hpmfile.json').map((e) => [e.name, e.data]));
  expect([...got.keys()].sort()).toEqual(Object.keys(files).sort());
  for (const [name, data] of Object.entries(files)) expect(got.get(name)!.equals(typeof data === 'string' ? Buffer.from(data) : data), name).toBe(true);
});

it('without an uploaded key CERT.json carries empty signatures, and the answer says the package is unsigned', async () => {
  const other = await startTestServer();
  try {
    const p = await publishFixture(other, { h5Id: '70000002' });
    expect(p.body.CreateMcubeNebulaResourceReslult).toMatchObject({ Success: true, ResultMsg: expect.stringMatching(/^Built unsigned: no RSA key/) });
    const list = await p.call('ListMcubeNebulaResources', { H5Id: p.h5Id });
    const res = await fetch(list.ListMcubeNebulaResourceResult.NebulaResourceInfo[0].DownloadUrl);
    const path = join(other.env.dataDir, 'unsigned.amr');
    await writeFile(path, Buffer.from(await res.arrayBuffer()));
    const cert = JSON.parse((await readZip(path)).find((e) => e.name === 'CERT.json')!.data.toString());
    expect(cert).toEqual({ '70000002.tar': '', 'Manifest.xml': '' });
  } finally {
    await other.close();
  }
});

it('a package with non-ASCII file names is built, and the answer says Android clients cannot load those files', async () => {
  const p = await publishFixture(srv, { h5Id: '70000004', files: { ...DEFAULT_H5_FILES, 'www/页面.html': '<p>你好</p>' } });
  expect(p.body.CreateMcubeNebulaResourceReslult.ResultMsg).toMatch(/1 path\(s\) hold characters beyond ASCII \(www\/页面\.html\): Nebula's Android client cannot load/);
});

it('a global package with a file address over the guide\'s 100 characters is built, and the answer says clients may fail to load it', async () => {
  const scope = `h5app.com/${srv.creds.appId}_${srv.creds.workspaceId}`;
  const long = `${scope}/js/${'y'.repeat(50)}/${'x'.repeat(30)}.js`;
  const fits = `${scope}/js/${'z'.repeat(100 - 'https://'.length - scope.length - '/js/.js'.length)}.js`;
  expect(`https://${fits}`).toHaveLength(100);
  const p = await publishFixture(srv, { h5Id: '70000005', resourceType: 0, files: { [fits]: 'a', [long]: 'b' } });
  expect(p.body.CreateMcubeNebulaResourceReslult.ResultMsg).toBe(
    `1 file address(es) are longer than the 100 characters the guide allows public resources (https://${long}): clients may fail to load them and show a blank page; shorten their folders or names.`,
  );
  const short = await publishFixture(srv, { h5Id: '70000006', resourceType: 0, files: { [fits]: 'a' } });
  expect(short.body.CreateMcubeNebulaResourceReslult.ResultMsg).toBe('');
});

it('with the s3 driver (s3rver) the package is built, stored and downloadable through its DownloadUrl', async () => {
  const s3 = await startS3rver();
  const s3srv = await startTestServer(s3.env);
  try {
    const p = await publishFixture(s3srv, { h5Id: '70000003', version: '3.0' });
    const item = (await p.call('ListMcubeNebulaResources', { H5Id: p.h5Id })).ListMcubeNebulaResourceResult.NebulaResourceInfo[0];
    const amr = await fetch(item.DownloadUrl);
    expect(amr.status).toBe(200);
    expect(String((await amr.arrayBuffer()).byteLength)).toBe(item.FileSize);
    const json: any = await (await fetch(item.Memo)).json();
    expect(json.data[0]).toMatchObject({ app_id: '70000003', version: '3.0' });
    expect((await p.call('DeleteMcubeNebulaApp', { H5Id: p.h5Id })).ResultCode).toBe('OK');
    expect((await fetch(item.DownloadUrl)).status).toBe(404);
  } finally {
    await s3srv.close();
    await s3.close();
  }
});

it('a key replaced while a package is built refuses that package (RsaKeyChanged) and leaves nothing behind', async () => {
  const call = mcube(srv);
  const first = rsaKeyPair();
  expect((await call('UploadMcubeRsaKey', { FileUrl: await uploadFile(call, 'k1.pem', Buffer.from(first.privatePem)), OnexFlag: true })).ResultCode).toBe('OK');
  const second = rsaKeyPair();
  const secondUrl = await uploadFile(call, 'k2.pem', Buffer.from(second.privatePem));
  // the replacement lands after the build, while the package's h5.json is being stored: the last step before its row
  const { blobs, db } = srv.node.deps;
  const put = blobs.put.bind(blobs);
  let replaced = false;
  blobs.put = async (key, body, opts) => {
    await put(key, body, opts);
    if (!replaced && key.startsWith('pkg/') && key.endsWith('.json')) {
      replaced = true;
      expect((await call('UploadMcubeRsaKey', { FileUrl: secondUrl, OnexFlag: true })).ResultCode).toBe('OK');
    }
  };
  const before = { resources: await db.knex('nebula_resources').count({ n: '*' }), blobs: await db.knex('blobs').whereIn('state', ['live', 'pending']).count({ n: '*' }) };
  let r: Record<string, any>;
  try {
    r = await publishFixture(srv, { h5Id: '70000002', version: '1.0.0.0' }).then(
      () => ({ ResultCode: 'OK' }),
      (e: Error) => JSON.parse(e.message.slice(e.message.indexOf('{'))),
    );
  } finally {
    blobs.put = put;
  }
  expect(replaced).toBe(true);
  expect(r.ResultCode).toBe('RsaKeyChanged');
  expect(await db.knex('nebula_resources').count({ n: '*' })).toEqual(before.resources);
  expect(await db.knex('blobs').whereIn('state', ['live', 'pending']).count({ n: '*' })).toEqual(before.blobs);
  // published again, it is signed with the new key
  const again = await publishFixture(srv, { h5Id: '70000002', version: '1.0.0.0' });
  expect(again.body.ResultCode).toBe('OK');
});
