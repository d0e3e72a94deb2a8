/**
 * A raw Socket.IO v4 client over a plain WebSocket (the `ws` package Socket.IO
 * itself uses): sends handshakes no well-behaved client would — repeated query
 * parameters, non-JSON auth payloads, invalid UTF-8, oversized headers — and
 * reports what the server answered on the wire.
 */
import WebSocket from 'ws';

export interface RawHandshake {
  /** Raw query string appended after the Engine.IO parameters, e.g. `token=a&token=b`. */
  query?: string;
  /** Namespace, default `/`. */
  nsp?: string;
  /** What follows `40` (and the namespace) in the CONNECT packet: JSON text, or anything at all. */
  authText?: string;
  /** A binary frame instead of a text one, for bytes that are not UTF-8. */
  authBytes?: Buffer;
  headers?: Record<string, string>;
}

export type RawOutcome =
  | { kind: 'connected' }
  | { kind: 'refused'; code: string | undefined; data: unknown; message: string | undefined }
  | { kind: 'closed'; detail: string };

export function rawHandshake(baseUrl: string, h: RawHandshake, ms = 5000): Promise<RawOutcome> {
  const url = `${baseUrl.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket${h.query ? `&${h.query}` : ''}`;
  return new Promise((resolve) => {
    let settled = false;
    const ws = new WebSocket(url, { headers: h.headers, handshakeTimeout: ms });
    const done = (o: RawOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      resolve(o);
    };
    const timer = setTimeout(() => done({ kind: 'closed', detail: 'timeout' }), ms);
    const nspPrefix = h.nsp && h.nsp !== '/' ? `${h.nsp},` : '';
    ws.on('message', (raw, isBinary) => {
      const text = isBinary ? '' : raw.toString();
      if (text.startsWith('0')) {
        // Engine.IO open: now the Socket.IO CONNECT packet.
        if (h.authBytes) ws.send(Buffer.concat([Buffer.from(`40${nspPrefix}`), h.authBytes]), { binary: false });
        else ws.send(`40${nspPrefix}${h.authText ?? ''}`);
      } else if (text === '2') {
        ws.send('3');
      } else if (text.startsWith(`40${nspPrefix}`)) {
        done({ kind: 'connected' });
      } else if (text.startsWith('44')) {
        // `44[<nsp>,]{json}`: the namespace may differ from the one asked for when the payload itself began with '/'.
        const body = text[2] === '/' ? text.slice(text.indexOf(',') + 1) : text.slice(2);
        let parsed: { message?: string; data?: unknown } = {};
        try {
          parsed = JSON.parse(body);
        } catch {
          // left empty: reported as a refusal without code
        }
        done({ kind: 'refused', code: (parsed.data as { code?: string } | undefined)?.code, data: parsed.data, message: parsed.message });
      }
    });
    ws.on('unexpected-response', (_req, res) => done({ kind: 'closed', detail: `http ${res.statusCode}` }));
    ws.on('error', (err) => done({ kind: 'closed', detail: err.message }));
    ws.on('close', (code) => done({ kind: 'closed', detail: `ws close ${code}` }));
  });
}

/** A raw connection that joined a namespace: send any frame, read every frame the server sent. */
export interface RawSession {
  /** Sends one Engine.IO text frame verbatim, e.g. `42[7,"x"]`. */
  send(frame: string): void;
  /** Every text frame received after the namespace connected. */
  readonly frames: string[];
  close(): void;
}

/** Opens a raw connection and joins `h.nsp`; rejects if the namespace refuses. */
export function rawSession(baseUrl: string, h: RawHandshake = {}, ms = 5000): Promise<RawSession> {
  const url = `${baseUrl.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket${h.query ? `&${h.query}` : ''}`;
  const nspPrefix = h.nsp && h.nsp !== '/' ? `${h.nsp},` : '';
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: h.headers, handshakeTimeout: ms });
    const frames: string[] = [];
    let joined = false;
    const timer = setTimeout(() => (ws.terminate(), reject(new Error('raw session: no CONNECT answer'))), ms);
    ws.on('message', (raw) => {
      const text = raw.toString();
      if (text.startsWith('0')) ws.send(`40${nspPrefix}${h.authText ?? ''}`);
      else if (text === '2') ws.send('3');
      else if (!joined && text.startsWith(`40${nspPrefix}`)) {
        joined = true;
        clearTimeout(timer);
        resolve({ send: (frame) => ws.send(frame), frames, close: () => ws.terminate() });
      } else if (!joined && text.startsWith('44')) {
        clearTimeout(timer);
        ws.terminate();
        reject(new Error(`raw session refused: ${text}`));
      } else if (joined) frames.push(text);
    });
    ws.on('error', (err) => (clearTimeout(timer), reject(err)));
  });
}
