// The page of every single-strategy example: log in, connect with the
// example's strategy, show the user the server saw, live messages, the token's
// countdown and refreshes, and the code a forged or expired credential gets.
// Each example's index.html passes only what differs: how to open a socket
// with a credential, and how it authenticates after connecting (the event
// strategy). Codes, refresh and the event round trip come from the browser
// bundle of `sockpass/client` (dist/browser/sockpass-client.js).
import { authErrorCode, refreshToken } from '/sockpass-client.js';

export const $ = (id) => document.getElementById(id);

/**
 * The AuthError code of a refusal: a `connect_error`, an `unauthorized`
 * payload, a client helper's ClientAuthError, or an `auth:expired` /
 * `auth:revoked` notice (`{ code, message }`).
 */
export function codeOf(value) {
  if (value == null) return 'unknown';
  const code = authErrorCode(value) ?? value.code;
  if (typeof code === 'string') return code;
  return typeof value.message === 'string' ? value.message : String(value);
}

/** The same token with its payload rewritten to another user: the signature no longer matches. */
export function forgeToken(token) {
  const [header, payload, signature] = token.split('.');
  const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
  const forged = { ...claims, sub: '2', name: 'Mallory', role: 'admin' };
  const encoded = btoa(JSON.stringify(forged)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return `${header}.${encoded}.${signature}`;
}

/**
 * Opens a socket with a forged session cookie: one with a bad signature on the
 * `/socket.io/` path, which the browser sends before the real (httpOnly) one,
 * removed again once the handshake is answered. The Cookie Store API resolves
 * once the cookie is really in the browser's jar; a `document.cookie` write may
 * still be on its way when the WebSocket handshake leaves.
 */
export async function withForgedCookie(open, name = 'sockpass.sid') {
  const forged = { name, value: 's%3Aforged-session-id.badsignature', path: '/socket.io/', sameSite: 'lax' };
  if (window.cookieStore) await window.cookieStore.set(forged);
  else document.cookie = `${name}=${forged.value}; path=/socket.io/; SameSite=Lax`;
  const socket = open();
  const clear = () => {
    if (window.cookieStore) window.cookieStore.delete({ name, path: '/socket.io/' });
    else document.cookie = `${name}=; path=/socket.io/; expires=Thu, 01 Jan 1970 00:00:00 GMT`;
  };
  socket.on('connect', clear);
  socket.on('connect_error', clear);
  return socket;
}

export async function postJson(path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body ?? {}), credentials: 'same-origin' });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error ?? `HTTP ${res.status}`);
  return data;
}

/**
 * Resolves when `socket` is authenticated: connected, and for the event
 * strategy also through `authenticate(socket)`; rejects with the AuthError code
 * of a refusal.
 */
export async function whenAuthenticated(socket, authenticate, ms = 10000) {
  if (authenticate) {
    try {
      return await authenticate(socket);
    } catch (err) {
      throw codeOf(err);
    }
  }
  return new Promise((resolve, reject) => {
    const done = (fn, value) => {
      clearTimeout(timer);
      socket.off('connect', onOk);
      socket.off('connect_error', onRefused);
      fn(value);
    };
    const onOk = () => done(resolve);
    const onRefused = (err) => done(reject, codeOf(err));
    const timer = setTimeout(() => done(reject, 'timeout'), ms);
    socket.on('connect', onOk);
    socket.on('connect_error', onRefused);
  });
}

const TEMPLATE = `
  <section class="card" id="login-card">
    <h2>1 · Log in</h2>
    <form id="login-form">
      <label>user <input id="username" value="alice" autocomplete="username"></label>
      <label>password <input id="password" type="password" value="wonderland" autocomplete="current-password"></label>
      <button id="login" type="submit">Log in and connect</button>
      <button id="logout" type="button" disabled>Log out</button>
    </form>
    <p class="hint">Demo accounts: alice / wonderland (admin), bob / builder (member).</p>
    <p id="login-error" class="error"></p>
  </section>
  <section class="card">
    <h2>2 · The socket</h2>
    <dl>
      <dt>status</dt><dd><span id="status" data-state="idle">logged out</span></dd>
      <dt>user the server saw</dt><dd><code id="user">—</code></dd>
      <dt>socket id</dt><dd><code id="socket-id">—</code></dd>
      <dt>handshake</dt><dd id="elapsed">—</dd>
      <dt>credential expires</dt><dd><span id="expires">—</span></dd>
      <dt>refreshes on this socket</dt><dd><span id="refreshes">0</span> <label class="inline"><input id="answer-refresh" type="checkbox" checked> answer <code>auth:refresh</code></label></dd>
      <dt>last error code</dt><dd><code id="code">—</code></dd>
    </dl>
  </section>
  <section class="card">
    <h2>3 · Live messages</h2>
    <form id="say-form"><input id="say" placeholder="say something" maxlength="200"><button id="send" type="submit" disabled>Send</button></form>
    <ul id="messages"></ul>
  </section>
  <section class="card">
    <h2>4 · Refused credentials</h2>
    <p>Each button opens a second socket with a bad credential and shows the code the server answered.</p>
    <button id="forge" type="button" disabled>Try a forged token</button>
    <button id="expired" type="button" disabled>Try an expired token</button>
    <p>answer: <code id="refused-code">—</code></p>
  </section>`;

/**
 * Builds the page into `#demo`.
 *
 * options:
 *  - open(token): a socket.io-client socket carrying `token` where the strategy reads it
 *  - authenticate(socket, token): the in-band round trip after connect (event strategy only)
 *  - cookie: true when the credential is the session cookie (no token on the page)
 *  - forge(): for cookie pages, opens a socket with a forged credential
 */
export function runExample(options) {
  const root = $('demo');
  root.innerHTML = TEMPLATE;
  const authenticateOf = (token) => (options.authenticate ? (socket) => options.authenticate(socket, token) : undefined);
  let token;
  let socket;
  let expiresAt;
  let refreshes = 0;

  const setStatus = (text, state) => {
    $('status').textContent = text;
    $('status').dataset.state = state;
  };
  const setCode = (code) => ($('code').textContent = code);
  const setRefreshes = (n) => {
    if ($('refreshes')) $('refreshes').textContent = String(n);
  };
  const addMessage = (text, kind = 'message') => {
    const li = document.createElement('li');
    li.className = kind;
    li.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
    $('messages').prepend(li);
    while ($('messages').children.length > 50) $('messages').lastChild.remove();
  };
  const showExpiry = () => {
    $('expires').dataset.at = expiresAt ?? '';
    if (!expiresAt) return;
    const left = Math.round((new Date(expiresAt).getTime() - Date.now()) / 1000);
    $('expires').textContent = left > 0 ? `in ${left} s` : 'expired';
  };
  const setExpiry = (at) => {
    expiresAt = at;
    showExpiry();
  };
  setInterval(showExpiry, 250);

  if (options.cookie) {
    // The session is the credential: no token to expire on the page, nothing to refresh in-band.
    $('expired').hidden = true;
    $('forge').textContent = 'Try a forged session cookie';
    $('refreshes').parentElement.textContent = 'n/a: the session itself is the credential';
  }

  async function connect() {
    socket?.disconnect();
    const started = performance.now();
    const s = options.open(token);
    socket = s;
    setStatus('connecting…', 'connecting');
    s.on('hello', (auth) => {
      $('user').textContent = `${auth.user.name} (id ${auth.user.id}, ${auth.user.role}) via ${auth.strategy}`;
      setExpiry(auth.expiresAt);
      if (!expiresAt) $('expires').textContent = 'never (no expiry)';
    });
    s.on('message', (m) => addMessage(`${m.from}: ${m.text}`));
    for (const event of ['auth:expired', 'auth:refused', 'auth:revoked']) {
      s.on(event, (payload) => {
        setCode(codeOf(payload));
        addMessage(`server: ${event} (${codeOf(payload)})`, 'warning');
      });
    }
    s.on('auth:refresh', async () => {
      if (!$('answer-refresh').checked || options.cookie) return;
      try {
        const fresh = await postJson('/token', {}, token);
        const movedTo = await refreshToken(s, fresh.token);
        token = fresh.token;
        setExpiry(movedTo?.toISOString());
        refreshes += 1;
        setRefreshes(refreshes);
        addMessage(`refreshed the token on socket ${s.id}`, 'info');
      } catch (err) {
        setCode(codeOf(err));
      }
    });
    s.on('disconnect', (reason) => {
      if (s !== socket) return;
      setStatus(`disconnected (${reason})`, 'disconnected');
      $('send').disabled = true;
    });
    try {
      await whenAuthenticated(s, authenticateOf(token));
      $('socket-id').textContent = s.id;
      $('elapsed').textContent = `${Math.round(performance.now() - started)} ms`;
      setStatus('connected', 'connected');
      $('send').disabled = false;
    } catch (code) {
      setStatus('refused', 'refused');
      setCode(code);
    }
  }

  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('login-error').textContent = '';
    try {
      const res = await postJson('/login', { username: $('username').value, password: $('password').value });
      token = res.token;
      setExpiry(res.expiresAt);
      refreshes = 0;
      setRefreshes(0);
      $('forge').disabled = false;
      $('expired').disabled = false;
      $('logout').disabled = false;
      await connect();
    } catch (err) {
      $('login-error').textContent = err.message;
    }
  });

  $('logout').addEventListener('click', async () => {
    if (options.logout) await options.logout(socket);
    else socket?.disconnect();
    token = undefined;
    setExpiry(undefined);
    $('user').textContent = '—';
    $('expires').textContent = '—';
    $('logout').disabled = true;
  });

  $('say-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = $('say').value.trim();
    if (text && socket?.connected) socket.emit('say', text);
    $('say').value = '';
  });

  async function tryRefused(open) {
    $('refused-code').textContent = 'trying…';
    let s;
    try {
      const attempt = await open();
      s = attempt.socket;
      await whenAuthenticated(s, attempt.authenticate);
      $('refused-code').textContent = 'accepted (!)';
    } catch (code) {
      $('refused-code').textContent = code;
    } finally {
      s?.disconnect();
    }
  }
  const attempt = (bad) => ({ socket: options.open(bad), authenticate: authenticateOf(bad) });
  $('forge').addEventListener('click', () =>
    tryRefused(async () => (options.forge ? { socket: await options.forge() } : attempt(forgeToken(token)))),
  );
  $('expired').addEventListener('click', () =>
    tryRefused(async () => attempt((await postJson('/demo/expired-token', {}, token)).token)),
  );
}
