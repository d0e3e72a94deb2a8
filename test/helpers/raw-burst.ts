/**
 * Many Socket.IO CONNECT packets on one Engine.IO connection, all at once: in
 * one long-polling POST (packets joined by the record separator) or as
 * WebSocket frames written back to back. Socket.IO runs one handshake per
 * CONNECT, so this is how one client starts hundreds of handshakes before the
 * first is answered. Resolves with every answer the server sent.
 */
import WebSocket from 'ws';

/** The server's answer to one CONNECT: admitted, or refused with `err.data`. */
export type BurstAnswer = { kind: 'connected' } | { kind: 'refused'; code: string | undefined; retryAfter: number | undefined };

const SEPARATOR = '\x1e';

function answerOf(packet: string): BurstAnswer | undefined {
  // Main namespace only: `40{"sid":…}` admitted, `44{"message":…,"data":…}` refused.
  if (packet.startsWith('40')) return { kind: 'connected' };
  if (!packet.startsWith('44')) return undefined;
  try {
    const data = (JSON.parse(packet.slice(2)) as { data?: { code?: string; retryAfter?: number } }).data;
    return { kind: 'refused', code: data?.code, retryAfter: data?.retryAfter };
  } catch {
    return { kind: 'refused', code: undefined, retryAfter: undefined };
  }
}

/** `count` CONNECT packets (payload `authText`) in one HTTP long-polling POST; polls until every one is answered or `ms` pass. */
export async function pollingBurst(baseUrl: string, authText: string, count: number, ms = 15_000): Promise<BurstAnswer[]> {
  const base = `${baseUrl}/socket.io/?EIO=4&transport=polling`;
  const open = await (await fetch(base)).text();
  if (!open.startsWith('0')) throw new Error(`polling burst: no Engine.IO open packet: ${open.slice(0, 80)}`);
  const sid = (JSON.parse(open.slice(1)) as { sid: string }).sid;
  const url = `${base}&sid=${encodeURIComponent(sid)}`;
  const body = Array.from({ length: count }, () => `40${authText}`).join(SEPARATOR);
  const posted = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
  if (!posted.ok) throw new Error(`polling burst: POST answered ${posted.status}`);
  const answers: BurstAnswer[] = [];
  const deadline = Date.now() + ms;
  try {
    while (answers.length < count && Date.now() < deadline) {
      const res = await fetch(url, { signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) });
      if (!res.ok) break;
      for (const packet of (await res.text()).split(SEPARATOR)) {
        const answer = answerOf(packet);
        if (answer !== undefined) answers.push(answer);
      }
    }
  } catch {
    // the deadline: report what was answered
  } finally {
    // Engine.IO close packet, so the server does not keep the session until its ping timeout.
    await fetch(url, { method: 'POST', body: '1' }).catch(() => undefined);
  }
  return answers;
}

/** `count` CONNECT frames written back to back on one WebSocket; resolves once every one is answered or `ms` pass. */
export function websocketBurst(baseUrl: string, authText: string, count: number, ms = 15_000): Promise<BurstAnswer[]> {
  const url = `${baseUrl.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
  return new Promise((resolve) => {
    const answers: BurstAnswer[] = [];
    const ws = new WebSocket(url);
    const done = () => {
      clearTimeout(timer);
      ws.terminate();
      resolve(answers);
    };
    const timer = setTimeout(done, ms);
    ws.on('message', (raw, isBinary) => {
      const text = isBinary ? '' : raw.toString();
      if (text.startsWith('0')) {
        for (let i = 0; i < count; i++) ws.send(`40${authText}`);
        return;
      }
      if (text === '2') return ws.send('3');
      const answer = answerOf(text);
      if (answer !== undefined) answers.push(answer);
      if (answers.length >= count) done();
    });
    ws.on('error', done);
    ws.on('close', done);
  });
}
