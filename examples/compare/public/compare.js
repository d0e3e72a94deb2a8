// The compare page: one login, then one socket per strategy (one column each),
// and two columns whose chains combine the cookie and the token. Each lane
// says how to put the credential where its strategy reads it; the rest
// (timing, round trips, countdown, refresh, refused credentials) is the same
// for every lane.
import { io } from '/socket.io/socket.io.esm.min.js';
import { authenticateWithEvent, connectWithToken, refreshToken } from '/sockpass-client.js';
import { $, codeOf, forgeToken, postJson, whenAuthenticated, withForgedCookie } from '/shared/demo.js';

const common = { reconnection: false, forceNew: true };
const short = (token) => (token ? `${token.slice(0, 12)}…` : '…');
/** A socket with the token in the auth payload, or with only the cookie the browser sends anyway. */
const cookieAndMaybeToken = (nsp, token) =>
  token === undefined ? io(nsp, { ...common, transports: ['websocket'] }) : connectWithToken(nsp, { ...common, token, transports: ['websocket'] });
const freshToken = async () => (await postJson('/token')).token;

/**
 * What differs per strategy: `open(token)` returns a socket carrying the
 * credential where the strategy reads it (sockpass/client's connectWithToken);
 * the event strategy then authenticates in-band (`authenticate`).
 */
const LANES = {
  'jwt-auth': {
    travels: 'handshake body (auth payload)',
    wire: (t) => `CONNECT /jwt-auth {"token":"${short(t)}"}`,
    proxies: 'nothing',
    open: (token) => connectWithToken('/jwt-auth', { ...common, token, transports: ['websocket'] }),
  },
  'jwt-query': {
    travels: 'URL query string',
    wire: (t) => `GET /socket.io/?EIO=4&transport=websocket&token=${short(t)}`,
    proxies: 'the token, in every access log that records URLs',
    open: (token) => connectWithToken('/jwt-query', { ...common, token, via: 'query', transports: ['websocket'] }),
  },
  'jwt-header': {
    travels: 'HTTP header (polling transport)',
    wire: (t) => `Authorization: Bearer ${short(t)}\n(on every polling request)`,
    proxies: 'rarely (headers are seldom logged)',
    open: (token) => connectWithToken('/jwt-header', { ...common, token, via: 'header', transports: ['polling'] }),
  },
  'jwt-authenticate-event': {
    travels: 'message body, after connect',
    wire: (t) => `42/jwt-authenticate-event,["authenticate",{"token":"${short(t)}"}]`,
    proxies: 'nothing',
    acceptedOn: 'authenticated',
    open: () => io('/jwt-authenticate-event', { ...common, transports: ['websocket'] }),
    authenticate: (socket, token) => authenticateWithEvent(socket, token),
  },
  session: {
    travels: 'cookie (sent by the browser)',
    wire: () => 'Cookie: sockpass.sid=s%3A… (httpOnly)',
    proxies: 'nothing usually; CSWSH risk: sockpass checks Origin',
    cookie: true,
    open: () => io('/session', { ...common, transports: ['websocket'] }),
    forge: () => withForgedCookie(() => io('/session', { ...common, transports: ['websocket'] })),
  },
  'cookie-and-token': {
    travels: 'cookie and handshake body: both required',
    wire: (t) => `Cookie: sockpass.sid=s%3A…\nCONNECT /cookie-and-token {"token":"${short(t)}"}`,
    proxies: 'nothing',
    // The server refuses an in-band refresh here (no single strategy admitted the socket): it ends at expiry.
    noRefresh: 'none: a socket two strategies admitted is not refreshed in-band; it ends when the token expires',
    open: (token) => cookieAndMaybeToken('/cookie-and-token', token),
    tries: [
      { id: 'both', label: 'both, same user', token: freshToken },
      { id: 'cookie-only', label: 'cookie only', token: async () => undefined },
      { id: 'other-user', label: 'token of another user', token: async () => (await postJson('/demo/other-user-token')).token },
    ],
  },
  'token-or-cookie': {
    travels: 'handshake body if there is a token, else the cookie',
    wire: (t) => `CONNECT /token-or-cookie {"token":"${short(t)}"}\n(Cookie: sockpass.sid=… unused while a token is sent)`,
    proxies: 'nothing',
    open: (token) => cookieAndMaybeToken('/token-or-cookie', token),
    tries: [
      { id: 'token', label: 'token (and cookie)', token: freshToken },
      { id: 'cookie-only', label: 'cookie only', token: async () => undefined },
      { id: 'forged-token', label: 'forged token + good cookie', token: async () => forgeToken(await freshToken()) },
    ],
  },
  'token-else-cookie': {
    travels: 'handshake body, and the cookie when the token is refused',
    wire: (t) => `CONNECT /token-else-cookie {"token":"${short(t)}"}\n(Cookie: sockpass.sid=… tried next if the token fails)`,
    proxies: 'nothing',
    // Mode any: a refused token is not the answer while the cookie is good.
    fallsThrough: 'the cookie',
    open: (token) => cookieAndMaybeToken('/token-else-cookie', token),
    tries: [
      { id: 'token', label: 'token (and cookie)', token: freshToken },
      { id: 'cookie-only', label: 'cookie only', token: async () => undefined },
      { id: 'forged-token', label: 'forged token + good cookie', token: async () => forgeToken(await freshToken()) },
    ],
  },
};

const ROWS = [
  ['status', 'status'],
  ['user', 'user the server saw'],
  ['socket-id', 'socket id'],
  ['round-trips', 'round trips'],
  ['elapsed', 'handshake time'],
  ['travels', 'credential travels in'],
  ['proxies', 'what a proxy logs'],
  ['expires', 'credential expires'],
  ['refreshes', 'refreshes on this socket'],
  ['messages', 'live messages'],
  ['code', 'last error code'],
  ['actions', 'try other credentials'],
  ['refused', 'answer'],
];

const cell = (lane, field) => document.querySelector(`[data-cell="${lane}:${field}"]`);
const set = (lane, field, text) => (cell(lane, field).textContent = text);

let token;
const state = {};

function buildTable(names, combined) {
  // The table's width follows the number of lanes (compare.css), so every lane stays readable.
  $('compare').style.setProperty('--lanes', String(names.length));
  for (const name of names) {
    const th = document.createElement('th');
    const chain = combined[name];
    const runs = chain ? `<small><code>${chain.chain.join(', ')}</code>, mode <code>${chain.mode}</code></small>` : '';
    th.innerHTML = `<code>${name}</code><small>namespace /${name}</small>${runs}`;
    $('lanes').append(th);
  }
  for (const [field, label] of ROWS) {
    const tr = document.createElement('tr');
    tr.innerHTML = `<th>${label}</th>`;
    for (const name of names) {
      const td = document.createElement('td');
      td.dataset.cell = `${name}:${field}`;
      td.dataset.field = field;
      td.textContent = '—';
      tr.append(td);
    }
    $('rows').append(tr);
  }
  for (const name of names) {
    const lane = LANES[name];
    set(name, 'proxies', lane.proxies);
    cell(name, 'socket-id').replaceChildren(document.createElement('code'));
    cell(name, 'socket-id').firstChild.textContent = '—';
    cell(name, 'travels').innerHTML = `${lane.travels}<code></code>`;
    cell(name, 'messages').innerHTML = '<span class="count">0</span><ul></ul>';
    cell(name, 'actions').textContent = '';
    if (lane.tries) {
      for (const attempt of lane.tries) {
        const button = document.createElement('button');
        button.textContent = attempt.label;
        button.dataset.action = attempt.id;
        button.disabled = true;
        button.addEventListener('click', () => tryCombination(name, attempt));
        cell(name, 'actions').append(button);
      }
      state[name] = { socket: undefined, token: undefined, expiresAt: undefined, refreshes: 0, messages: 0 };
      continue;
    }
    const forge = document.createElement('button');
    forge.textContent = lane.cookie ? 'forged cookie' : 'forged token';
    forge.dataset.action = 'forge';
    forge.disabled = true;
    forge.addEventListener('click', () => tryRefused(name, 'forge'));
    cell(name, 'actions').append(forge);
    if (!lane.cookie) {
      const expired = document.createElement('button');
      expired.textContent = 'expired token';
      expired.dataset.action = 'expired';
      expired.disabled = true;
      expired.addEventListener('click', () => tryRefused(name, 'expired'));
      cell(name, 'actions').append(expired);
    }
    state[name] = { socket: undefined, token: undefined, expiresAt: undefined, refreshes: 0, messages: 0 };
  }
}

function setStatus(name, text, kind) {
  const td = cell(name, 'status');
  td.textContent = text;
  td.dataset.state = kind;
}

function addMessage(name, text, kind = 'message') {
  const lane = state[name];
  lane.messages += 1;
  const box = cell(name, 'messages');
  box.querySelector('.count').textContent = String(lane.messages);
  const li = document.createElement('li');
  li.className = kind;
  li.textContent = text;
  const ul = box.querySelector('ul');
  ul.prepend(li);
  while (ul.children.length > 4) ul.lastChild.remove();
}

/** A lane as before its first login: nothing the last login, its refusals or its tries showed is left. */
function resetLane(name) {
  for (const field of ['user', 'round-trips', 'elapsed', 'code', 'refused']) set(name, field, '—');
  cell(name, 'socket-id').firstChild.textContent = '—';
  state[name].answers?.clear();
}

async function connectLane(name) {
  const lane = LANES[name];
  const s = state[name];
  s.socket?.disconnect();
  resetLane(name);
  s.token = token;
  s.refreshes = 0;
  set(name, 'refreshes', lane.cookie ? 'n/a: the session itself is the credential' : lane.noRefresh ?? '0');
  const started = performance.now();
  const socket = lane.open(token);
  s.socket = socket;
  cell(name, 'travels').querySelector('code').textContent = lane.wire(token);
  setStatus(name, 'connecting…', 'connecting');

  // Round trips: the server's packets for this namespace up to the one that authenticated the
  // socket. Our 'packet' listener runs after the socket's own, so that last one is added here.
  let answers = 0;
  let roundTrips;
  socket.io.on('packet', (packet) => {
    if (roundTrips === undefined && packet.nsp === `/${name}`) answers += 1;
  });
  socket.once(lane.acceptedOn ?? 'connect', () => (roundTrips = answers + 1));
  socket.on('hello', (auth) => {
    set(name, 'user', `${auth.user.name} (id ${auth.user.id}) via ${auth.strategy}`);
    s.expiresAt = auth.expiresAt;
  });
  socket.on('message', (m) => addMessage(name, `${m.from}: ${m.text}`));
  for (const event of ['auth:expired', 'auth:refused', 'auth:revoked']) {
    socket.on(event, (payload) => {
      set(name, 'code', codeOf(payload));
      addMessage(name, `${event} (${codeOf(payload)})`, 'warning');
    });
  }
  socket.on('auth:refresh', async () => {
    // No token after logging out: the session that would issue one is gone, and the revocation is on its way.
    if (!$('answer-refresh').checked || lane.cookie || lane.noRefresh || token === undefined) return;
    try {
      const fresh = await postJson('/token');
      const movedTo = await refreshToken(socket, fresh.token);
      s.token = fresh.token;
      s.expiresAt = movedTo?.toISOString();
      s.refreshes += 1;
      set(name, 'refreshes', String(s.refreshes));
      tick();
    } catch (err) {
      set(name, 'code', codeOf(err));
    }
  });
  socket.on('disconnect', (reason) => {
    if (state[name].socket === socket) setStatus(name, `disconnected (${reason})`, 'disconnected');
  });
  try {
    await whenAuthenticated(socket, lane.authenticate && ((sock) => lane.authenticate(sock, token)));
    cell(name, 'socket-id').firstChild.textContent = socket.id;
    set(name, 'round-trips', String(roundTrips));
    set(name, 'elapsed', `${Math.round(performance.now() - started)} ms`);
    setStatus(name, 'connected', 'connected');
  } catch (code) {
    setStatus(name, 'refused', 'refused');
    set(name, 'code', code);
  }
}

async function tryRefused(name, kind) {
  const lane = LANES[name];
  set(name, 'refused', 'trying…');
  let socket;
  try {
    const bad = lane.forge ? undefined : kind === 'forge' ? forgeToken(token) : (await postJson('/demo/expired-token')).token;
    socket = bad === undefined ? await lane.forge() : lane.open(bad);
    await whenAuthenticated(socket, lane.authenticate && ((sock) => lane.authenticate(sock, bad)));
    const tried = kind === 'forge' ? 'forged' : 'expired';
    set(name, 'refused', lane.fallsThrough ? `${tried} token → fell through to ${lane.fallsThrough}: connected` : `${kind}: accepted (!)`);
  } catch (code) {
    set(name, 'refused', `${kind === 'forge' ? 'forged' : 'expired'} → ${code}`);
  } finally {
    socket?.disconnect();
  }
}

/**
 * One combination of credentials on a fresh socket of a combined lane: who it
 * was admitted as, or the refusal's code. The answer cell keeps one line per
 * combination, so the column reads as a table of outcomes.
 */
async function tryCombination(name, attempt) {
  const answers = (state[name].answers ??= new Map());
  const show = (text) => {
    answers.set(attempt.id, text);
    const ul = document.createElement('ul');
    for (const [id, line] of answers) {
      const li = document.createElement('li');
      li.dataset.attempt = id;
      li.textContent = line;
      ul.append(li);
    }
    cell(name, 'refused').replaceChildren(ul);
  };
  show(`${attempt.label} → trying…`);
  let socket;
  try {
    socket = LANES[name].open(await attempt.token());
    const hello = new Promise((resolve) => socket.once('hello', resolve));
    await whenAuthenticated(socket);
    const auth = await hello;
    show(`${attempt.label} → connected as ${auth.user.name} via ${auth.strategy}`);
  } catch (code) {
    show(`${attempt.label} → ${code}`);
  } finally {
    socket?.disconnect();
  }
}

function tick() {
  for (const [name, s] of Object.entries(state)) {
    if (!s.expiresAt) continue;
    const left = Math.round((new Date(s.expiresAt).getTime() - Date.now()) / 1000);
    const td = cell(name, 'expires');
    td.classList.add('countdown');
    td.textContent = left > 0 ? `in ${left} s` : 'expired';
  }
}

async function main() {
  const config = await (await fetch('/config')).json();
  const names = config.strategies.filter((name) => LANES[name] !== undefined);
  buildTable(names, config.combined ?? {});
  $('config').textContent = ` Tokens live ${config.tokenTtl} s; the server asks for a refresh ${Math.round(config.refreshBefore / 1000)} s before expiry. Sessions and adapter: ${config.backing}.`;
  setInterval(tick, 250);

  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('login-error').textContent = '';
    try {
      const res = await postJson('/login', { username: $('username').value, password: $('password').value });
      token = res.token;
      for (const button of document.querySelectorAll('#compare button, #forge-all, #expired-all, #logout')) button.disabled = false;
      await Promise.all(names.map((name) => connectLane(name)));
    } catch (err) {
      $('login-error').textContent = err.message;
    }
  });
  $('logout').addEventListener('click', async () => {
    token = undefined;
    await postJson('/logout').catch(() => {});
    for (const button of document.querySelectorAll('#compare button, #forge-all, #expired-all, #logout')) button.disabled = true;
    // No client-side disconnect: the server's logout revokes every socket of the user (auth.revoke),
    // and the page shows what each one was told.
    for (const name of names) {
      state[name].expiresAt = undefined;
      set(name, 'expires', '—');
    }
  });
  $('forge-all').addEventListener('click', async () => {
    // The session lane forges its cookie on the page while it tries it; the lanes that also send the cookie
    // try theirs after, with the real cookie (mode any would otherwise fall through to the forged one).
    const forgesCookie = (name) => LANES[name].forge !== undefined;
    await Promise.all(names.filter(forgesCookie).map((name) => tryRefused(name, 'forge')));
    await Promise.all(names.filter((name) => !forgesCookie(name)).map((name) => tryRefused(name, 'forge')));
  });
  $('expired-all').addEventListener('click', () => {
    for (const name of names) {
      // The cookie lane has no token to expire: say so, rather than leave the last answer standing as if it were this one's.
      if (LANES[name].cookie) set(name, 'refused', 'expired → n/a: the cookie carries no token (the session expires on the server)');
      else tryRefused(name, 'expired');
    }
  });
  // On a phone one lane fills the space beside the pinned row names, and a swipe snaps to the next
  // (compare.css); the hint under the table shows only while the lanes do not fit beside each other.
  const scroller = $('compare-scroll');
  const phone = matchMedia('(max-width: 600px)');
  const fit = () => {
    const label = $('compare').querySelector('th').offsetWidth;
    $('compare').style.setProperty('--lane', phone.matches ? `${Math.max(scroller.clientWidth - label, 160)}px` : '');
    scroller.classList.toggle('overflowing', scroller.scrollWidth > scroller.clientWidth + 1);
  };
  new ResizeObserver(fit).observe(scroller);
  phone.addEventListener('change', fit);
}

main();
