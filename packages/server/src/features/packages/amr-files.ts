const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const xml = (s: string) => s.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);

/** `Manifest.xml` byte for byte as the console writes it (132 bytes for an 8-digit id and a 7-char version). */
export function manifestXml(h5Id: string, version: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    '<package>\n' +
    `  <uid>${xml(h5Id)}</uid>\n` +
    '  <name>h5app</name>\n' +
    `  <version>${xml(version)}</version>\n` +
    '</package>\n'
  );
}

/** `CERT.json`: one line, keys `<h5Id>.tar` then `Manifest.xml`, then a space and LF. */
export function certJson(h5Id: string, tarSignature: string, manifestSignature: string): Buffer {
  const body = JSON.stringify({ [`${h5Id}.tar`]: tarSignature, 'Manifest.xml': manifestSignature });
  return Buffer.from(`${body} \n`, 'utf8');
}

/**
 * The informational `hpmfile.json` the console puts at the tar root (clients skip it).
 * The template's launch URL does not follow the real main URL, as on the console.
 */
export function hpmfileJson(h5Id: string, version: string): Buffer {
  const platform = { minSDK: '', maxSDK: '', minOS: '', maxOS: '' };
  const doc = {
    appid: h5Id,
    name: 'h5app',
    version,
    author: '',
    description: 'H5App demo',
    launchParams: { url: '/www/index.html', showTitleBar: 'YES', showToolBar: 'NO' },
    host: {
      enable: true,
      dev: `https://${h5Id}.h5app.dev.alipay.com`,
      test: `https://${h5Id}.h5app.test.alipay.com`,
      online: `https://${h5Id}.h5app.alipay.com`,
    },
    preBuild: [],
    build: { include: [], ignore: [] },
    support: { ios: platform, android: platform, harmony: platform },
    dependencies: {},
  };
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`, 'utf8');
}
