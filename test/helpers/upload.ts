/** The FileToken of a GetMcubeFileToken answer (GetFileTokenResult.FileToken). */
export interface FileToken {
  Accessid: string;
  Dir: string;
  Expire: string;
  Host: string;
  Policy: string;
  Signature: string;
  FormFields: Record<string, string>;
}

/**
 * Posts the form a FileToken describes: every FormFields entry in order, with
 * "${filename}" in key replaced by `filename` here (S3 would substitute it, but
 * s3rver stores the literal), then the file part. Returns the FileUrl: the Location header of
 * the store's answer. Our local driver answers with urlForKey(key); S3 and
 * s3rver answer with "<Host>/<key>", which is urlForKey(key) for the path-style
 * s3 driver. Throws on any non-2xx answer, with the store's XML error.
 */
export async function uploadWithToken(fileToken: FileToken, filename: string, data: Buffer): Promise<string> {
  const fields = Object.entries(fileToken.FormFields).map(([k, v]): [string, string] => [k, k === 'key' ? v.split('${filename}').join(filename) : v]);
  const res = await postUploadForm(fileToken.Host, fields, { filename, data });
  const body = await res.text();
  if (res.status < 200 || res.status > 299) throw new Error(`upload failed: HTTP ${res.status} ${body}`);
  const location = res.headers.get('location');
  if (!location) throw new Error('upload answer carries no Location header');
  return location;
}

export interface FilePart {
  filename: string;
  data: Buffer;
  /** form field name, "file" unless testing */
  field?: string;
}

/** Low-level form post for tests: fields in the given order, then zero or more file parts. */
export async function postUploadForm(url: string, fields: Array<[string, string]>, ...files: FilePart[]): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of fields) form.append(k, v);
  for (const f of files) form.append(f.field ?? 'file', new Blob([f.data], { type: 'application/octet-stream' }), f.filename);
  return fetch(url, { method: 'POST', body: form });
}
