import { randomBytes } from 'node:crypto';

/** The fixed parts of a multipart/form-data body around one file part (the file goes last, as S3 and OSS require). */
export interface MultipartFrame {
  contentType: string;
  head: Buffer;
  tail: Buffer;
}

const quoteName = (s: string) => s.replace(/[\r\n]/g, ' ').replace(/"/g, '%22');

export function multipartFrame(fields: Record<string, string>, file: { field: string; filename: string; contentType: string }): MultipartFrame {
  const boundary = `----mcube${randomBytes(12).toString('hex')}`;
  let head = '';
  for (const [name, value] of Object.entries(fields)) {
    head += `--${boundary}\r\nContent-Disposition: form-data; name="${quoteName(name)}"\r\n\r\n${value}\r\n`;
  }
  head +=
    `--${boundary}\r\nContent-Disposition: form-data; name="${quoteName(file.field)}"; filename="${quoteName(file.filename)}"\r\n` +
    `Content-Type: ${file.contentType}\r\n\r\n`;
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    head: Buffer.from(head, 'utf8'),
    tail: Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'),
  };
}
