import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { newRequestId } from './ids.js';

/**
 * Answers requests that node's HTTP parser refuses before any handler sees
 * them (raw bytes in the request line, a bad header, an unknown method,
 * headers over the size limit) with the same POP error body as every other
 * protocol failure, instead of node's bare "400 Bad Request" without a body.
 */
/** `hostId`: read per answer, since a node started on port 0 knows its port only once it listens. */
export function answerClientError(hostId: () => string) {
  return (err: NodeJS.ErrnoException, socket: Duplex): void => {
    // Same guard as node's own handler: never write into a response already under way.
    const inFlight = (socket as unknown as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, code, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'RequestTooLarge', 'The request headers exceed the size limit.']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADER_TIMEOUT'
          ? [408, 'RequestTimeout', 'The request was not received in time.']
          : [400, 'InvalidParameter', 'The request is not well-formed HTTP/1.1.'];
    endWithPop(socket, hostId(), status, code, message);
  };
}

/**
 * CONNECT never reaches the request handler (node hands it to a 'connect'
 * listener or, without one, drops the socket without a word); answer it like
 * any other method the gateway does not take.
 */
export function answerConnect(hostId: () => string) {
  return (req: IncomingMessage, socket: Duplex): void => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    endWithPop(socket, req.headers.host ?? hostId(), 405, 'UnsupportedHTTPMethod', 'Only GET and POST are supported.');
  };
}

function endWithPop(socket: Duplex, hostId: string, status: number, code: string, message: string): void {
  const requestId = newRequestId();
  const body = JSON.stringify({ RequestId: requestId, HostId: hostId, Code: code, Message: message, Recommend: `docs/errors.md#${code.toLowerCase().replace(/\./g, '')}` });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json;charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-acs-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * HTTP/1.1 wants exactly one Host header (RFC 9112 §3.2). Node refuses a missing one with an empty 400 before any
 * handler runs, and keeps the first of two: the server takes that check over (requireHostHeader: false), so the
 * refusal is a POP body like every other. True when the request was answered. `hostId` is read only then: it parses
 * the public URL, which every request would otherwise pay for.
 */
export function refuseBadHost(req: IncomingMessage, res: ServerResponse, hostId: () => string): boolean {
  // counted on rawHeaders: headersDistinct would build an object of every header on the device endpoints' hot path
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
  }
  const missing = hosts === 0 && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1;
  if (!missing && hosts <= 1) return false;
  refuseRequest(req, res, hostId(), missing ? 'An HTTP/1.1 request needs a Host header.' : 'The request has more than one Host header.');
  return true;
}

/** A request refused before routing: 400 InvalidParameter (or the status and code given) with the POP body, and the connection closed. */
export function refuseRequest(req: IncomingMessage, res: ServerResponse, hostId: string, message: string, status = 400, code = 'InvalidParameter'): void {
  req.resume();
  const requestId = newRequestId();
  const body = JSON.stringify({ RequestId: requestId, HostId: hostId, Code: code, Message: message, Recommend: `docs/errors.md#${code.toLowerCase().replace(/\./g, '')}` });
  res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-acs-request-id': requestId, connection: 'close' }).end(body);
}
