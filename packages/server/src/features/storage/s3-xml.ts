import type { ServerResponse } from 'node:http';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Minimal XML element list, in the shape S3 answers with. */
export function s3Xml(root: string, children: Record<string, string>): string {
  const body = Object.entries(children)
    .map(([k, v]) => `<${k}>${esc(v)}</${k}>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}>${body}</${root}>`;
}

export function sendS3Error(res: ServerResponse, status: number, code: string, message: string, requestId: string, extra: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = s3Xml('Error', { Code: code, Message: message, RequestId: requestId });
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(text), 'x-amz-request-id': requestId, ...extra });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}
