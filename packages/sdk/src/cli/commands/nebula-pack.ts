import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { packOfflinePackageToFile } from '../../pack-offline-package.js';
import type { Command } from '../command.js';
import { humanBytes } from '../io.js';

export const nebulaPack: Command = {
  path: ['nebula', 'pack'],
  args: '<dist-folder>',
  positionals: [1, 1],
  summary: 'Zip a built front end in the offline-package layout (top folder = H5 app id)',
  description:
    'Every file of <dist-folder> goes below <h5-id>/ in the zip (e.g. 12345678/www/index.html), as the vendor guide requires. ' +
    'A folder that already holds a single <h5-id>/ folder is zipped as is. Needs no server.',
  options: [
    { name: 'h5-id', value: '<8 digits>', help: 'offline package id (required)' },
    { name: 'out', value: '<file.zip>', help: 'output file (default <h5-id>.zip)' },
    { name: 'main-url', value: '<path>', help: 'check that this entry page exists, e.g. /www/index.html' },
  ],
  examples: ['mcube nebula pack dist --h5-id 12345678', 'mcube nebula pack build/ --h5-id 12345678 --out shop-1.0.0.1.zip --main-url /www/index.html'],
  async run(ctx) {
    const h5Id = ctx.str('h5-id', true);
    const out = resolve(ctx.io.cwd, ctx.str('out') ?? `${h5Id}.zip`);
    const r = await packOfflinePackageToFile(resolve(ctx.io.cwd, ctx.positionals[0]!), out, { h5Id, mainUrl: ctx.str('main-url') });
    const size = (await stat(out)).size;
    ctx.emit({ file: out, h5Id, files: r.files, bytes: r.bytes, size });
    ctx.say(`wrote ${out}: ${r.files} files under ${h5Id}/ (${humanBytes(r.bytes)}, zipped ${humanBytes(size)})`);
  },
};
