import { describe, expect, it } from 'vitest';
import { h5Json, h5JsonEntry, parseExtendInfo, type H5EntryInput } from '../../packages/server/src/features/packages/index.js';

const normal: H5EntryInput = {
  h5Id: '70000000',
  h5Name: 'H5Demo',
  version: '1.0.0.2',
  packageUrl: 'https://cdn.example.com/ALIPUB0000001-default/70000000/1.0.0.2_all/nebula/70000000_1.0.0.2.amr',
  fallbackBaseUrl: 'https://cdn.example.com/ALIPUB0000001-default/70000000/1.0.0.2_all/nebula/fallback/',
  mainUrl: '/www/index.html',
  vhost: 'https://70000000.h5app.com',
  autoInstall: 1,
  installType: 0,
  extendInfo: '',
  subUrl: '',
  resourceType: 1,
};

describe('h5JsonEntry', () => {
  it('emits the console fields in console order, plus download_type equal to auto_install', () => {
    const e = h5JsonEntry({ ...normal, autoInstall: 2 });
    expect(Object.keys(e)).toEqual([
      'app_desc', 'app_id', 'auto_install', 'download_type', 'extend_info', 'fallback_base_url', 'global_pack_url', 'icon_url',
      'installType', 'main_url', 'name', 'online', 'package_url', 'patch', 'sub_url', 'version', 'vhost',
    ]);
    expect(e).toMatchObject({
      app_desc: 'H5Demo',
      app_id: '70000000',
      auto_install: 2,
      download_type: 2,
      installType: 0,
      online: 1,
      patch: '',
      extend_info: { launchParams: {} },
      fallback_base_url: normal.fallbackBaseUrl,
      global_pack_url: '',
      main_url: '/www/index.html',
      name: 'H5Demo',
      version: '1.0.0.2',
    });
  });

  it('global packages: no fallback, index.htm placeholder main_url, one sample global_pack_url', () => {
    const e = h5JsonEntry({ ...normal, resourceType: 0, mainUrl: '', globalPackUrl: 'https://mcube-prod.mpaascloud.com/ALIPUB0000001_default/common.js' });
    expect(e).toMatchObject({ fallback_base_url: '', main_url: 'index.htm', global_pack_url: 'https://mcube-prod.mpaascloud.com/ALIPUB0000001_default/common.js' });
  });

  it('passes ExtendInfo objects through and refuses anything but a JSON object', () => {
    expect(h5JsonEntry({ ...normal, extendInfo: '{"launchParams":{"asyncReqRate":"600"}}' }).extend_info).toEqual({ launchParams: { asyncReqRate: '600' } });
    // the guide's per-package form: Nebula reads a package's own rate only in launchParams
    expect(h5JsonEntry({ ...normal, extendInfo: '{"asyncReqRate":"1800"}' }).extend_info).toEqual({ asyncReqRate: '1800', launchParams: { asyncReqRate: '1800' } });
    expect(h5JsonEntry({ ...normal, extendInfo: '{"ar":60,"launchParams":{"x":"1"}}' }).extend_info).toEqual({ ar: 60, launchParams: { x: '1', asyncReqRate: 60 } });
    // a rate already in launchParams wins
    expect(h5JsonEntry({ ...normal, extendInfo: '{"asyncReqRate":"1800","launchParams":{"ar":"5"}}' }).extend_info).toEqual({ asyncReqRate: '1800', launchParams: { ar: '5' } });
    for (const bad of ['{', '[1]', '"text"', 'null', '42']) {
      expect(() => parseExtendInfo(bad)).toThrow(expect.objectContaining({ code: 'InvalidExtendInfo' }));
    }
  });
});

describe('h5Json', () => {
  it('wraps entries in the console envelope with overridable config', () => {
    const doc = h5Json([h5JsonEntry(normal)], { updateReqRate: 600, asyncReqRate: { common: 300 } });
    expect(doc).toEqual({
      config: { updateReqRate: 600, limitReqRate: 13600, appPoolLimit: 3, versionRefreshRate: 86400, asyncReqRate: { common: 300 } },
      data: [h5JsonEntry(normal)],
      resultCode: 100,
      resultMsg: '操作成功',
      state: 'success',
    });
    expect(h5Json([]).config).toEqual({ updateReqRate: 16400, limitReqRate: 13600, appPoolLimit: 3, versionRefreshRate: 86400 });
  });
});
