/**
 * A raw Socket.IO v4 client over a plain WebSocket (`ws`, which Socket.IO
 * itself uses), for what no well-behaved client sends: repeated and array
 * query parameters, CONNECT payloads that are not JSON or not UTF-8,
 * oversized or non-UTF-8 headers, and `authenticate` events with arbitrary
 * text. Resolves with what the server answered on the wire.
 *
 * @module
 */
import WebSocket from 'ws';

export interface RawCase {
  nsp: string;
  /** Raw query text appended after the Engine.IO parameters, e.g. `token=a&token=b`. */
  query?: string;
  /** What follows `40<nsp>,` in the CONNECT packet. */
  authText?: string;
  /** CONNECT payload as bytes (not necessarily UTF-8). */
  authBytes?: Buffer;
  headers?: Record<string, string>;
  /** After the namespace connected: the text of an `authenticate` event's argument list tail, sent verbatim. */
  eventText?: string;
  /** After the namespace connected: frames sent verbatim (e.g. `42[7,"x"]`); the outcome is `connected` 200 ms later. */
  frames?: string[];
}

/** `connected` (and nothing more was asked), `authenticated`, a refusal code, `untyped`, or `closed: …`. */
export function rawOutcome(baseUrl: string, c: RawCase, ms = 10_000): Promise<string> {
  const url = `${baseUrl.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket${c.query ? `&${c.query}` : ''}`;
  const prefix = c.nsp === '/' ? '' : `${c.nsp},`;
  return new Promise((resolve) => {
    let settled = false;
    let ws: WebSocket;
    const done = (value: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws?.terminate();
      resolve(value);
    };
    const timer = setTimeout(() => done('hang'), ms);
    try {
      ws = new WebSocket(url, { headers: c.headers, handshakeTimeout: ms, maxPayload: 1e6 });
    } catch (err) {
      // The ws client itself refuses some header bytes before sending anything.
      return done(`not sent: ${(err as Error).message}`);
    }
    const codeOf = (json: string): string => {
      try {
        const body = JSON.parse(json) as unknown;
        const data = Array.isArray(body) ? (body[1] as { data?: { code?: unknown } })?.data : (body as { data?: { code?: unknown } }).data;
        return typeof data?.code === 'string' ? data.code : 'untyped';
      } catch {
        return 'untyped';
      }
    };
    ws.on('message', (raw, isBinary) => {
      const text = isBinary ? '' : raw.toString();
      if (text.startsWith('0')) {
        if (c.authBytes) ws.send(Buffer.concat([Buffer.from(`40${prefix}`), c.authBytes]), { binary: false });
        else ws.send(`40${prefix}${c.authText ?? ''}`);
      } else if (text === '2') {
        ws.send('3');
      } else if (text.startsWith(`40${prefix}`)) {
        if (c.frames !== undefined) {
          for (const frame of c.frames) ws.send(frame);
          // Time for the server to dispatch them; what reached a handler is counted on the server.
          setTimeout(() => done('connected'), 200);
          return;
        }
        if (c.eventText === undefined) return done('connected');
        ws.send(`42${prefix}["authenticate"${c.eventText}]`);
      } else if (text.startsWith('44') && !text.startsWith(`44${prefix}`)) {
        // A CONNECT payload that begins with "/" names another namespace: Socket.IO refuses it itself.
        done('closed: socket.io refused the namespace');
      } else if (text.startsWith(`44${prefix}`)) {
        const code = codeOf(text.slice(2 + prefix.length));
        done(code === 'untyped' && text.includes('"Invalid namespace"') ? 'closed: socket.io refused the namespace' : code);
      } else if (text.startsWith(`42${prefix}`)) {
        // An event, maybe with an ack id before the JSON array (`unauthorized` carries one).
        const body = text.slice(2 + prefix.length).replace(/^\d+/, '');
        if (body.startsWith('["authenticated"')) done('authenticated');
        else if (body.startsWith('["unauthorized"')) done(codeOf(body));
      } else if (text.startsWith(`41${prefix}`)) {
        done('closed: disconnected by the server');
      }
    });
    ws.on('unexpected-response', (_req, res) => done(`closed: http ${res.statusCode}`));
    ws.on('error', (err) => done(`closed: ${err.message}`));
    ws.on('close', (code) => done(`closed: ws close ${code}`));
  });
}
