import { resolve } from 'node:path';
import { businessFailure } from '../../business.js';
import type { Command } from '../command.js';

export const keyCommands: Command[] = [
  {
    path: ['key', 'upload'],
    args: '<private-key.pem>',
    positionals: [1, 1],
    summary: 'Upload the RSA private key that signs the offline packages (GetMcubeFileToken, upload, UploadMcubeRsaKey)',
    description: 'Generate one with: openssl genrsa -out private_key.pem 2048 (ship the public key in the app: openssl rsa -in private_key.pem -pubout -out public.pem).',
    options: [],
    examples: ['mcube key upload private_key.pem'],
    async run(ctx) {
      const client = ctx.client();
      const token = await client.getMcubeFileToken({ onexFlag: true });
      const fileUrl = await client.upload(token.getFileTokenResult.fileToken ?? {}, resolve(ctx.io.cwd, ctx.positionals[0]!), { contentType: 'application/x-pem-file' });
      const r = await client.uploadMcubeRsaKey({ fileUrl, onexFlag: true });
      ctx.emit(r);
      ctx.say('key uploaded: new packages are signed with it\n');
    },
  },
  {
    path: ['key', 'status'],
    positionals: [0, 0],
    summary: 'Tell whether a signing key is configured (ExistMcubeRsaKey); exit 0 either way',
    options: [],
    examples: ['mcube key status', 'mcube key status --json'],
    async run(ctx) {
      // "no key" is answered as Success false; that is the answer here, not an error
      const r = await ctx.client().existMcubeRsaKey({}, { throwOnBusinessError: false });
      if (r.resultCode !== 'OK') throw businessFailure(r)!;
      const exists = r.checkRsaKeyResult.data === 'success';
      ctx.emit({ ...r, exists });
      ctx.say(exists ? 'a signing key is configured\n' : 'no signing key: packages are not signed (upload one with "mcube key upload")\n');
    },
  },
];
