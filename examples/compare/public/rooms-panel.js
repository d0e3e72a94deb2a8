// The compare page's rooms panel: a socket of its own on /jwt-auth, whose
// rooms the server guards with a policy (auth.rooms): `lobby` is open to
// every authenticated socket, `admin` to admins, and any other room, such as
// `vip`, matches no rule and is refused. Each button asks to join over
// `auth:join`; the answer is the server's ack: `{ ok, room }`, or
// `{ error: { code: 'forbidden', message, action } }`, with `auth:forbidden`
// told besides. Kept apart from compare.js: it only adds its own section.
import { connectWithToken } from '/sockpass-client.js';
import { postJson, whenAuthenticated } from '/shared/demo.js';

const ROOMS = ['lobby', 'admin', 'vip'];
const panel = document.createElement('section');
panel.className = 'card';
panel.id = 'rooms-panel';
panel.innerHTML =
  '<h2>Rooms by policy <small>(<code>auth.rooms(io.of(\'/jwt-auth\'), { lobby: true, admin: (a) =&gt; a.user.role === \'admin\' })</code>)</small></h2>' +
  `<p>${ROOMS.map((room) => `<button type="button" class="secondary" data-room="${room}" disabled>join ${room}</button>`).join(' ')}</p>` +
  '<ul id="room-answers"></ul>' +
  '<p class="hint">Log in first. A room no rule matches (<code>vip</code>) is refused once the namespace has a policy; ' +
  'bob is not an admin, so <code>admin</code> is refused for him too.</p>';
document.body.insertBefore(panel, document.querySelector('.notes'));
const answers = panel.querySelector('#room-answers');
const buttons = [...panel.querySelectorAll('button[data-room]')];
let socket;

function show(room, text) {
  let li = answers.querySelector(`li[data-room="${room}"]`);
  if (li === null) {
    li = document.createElement('li');
    li.dataset.room = room;
    answers.append(li);
  }
  li.textContent = `${room} → ${text}`;
}

async function joined(room) {
  if (socket === undefined || !socket.connected) {
    socket?.close();
    const { token } = await postJson('/token');
    socket = connectWithToken('/jwt-auth', { token, reconnection: false, forceNew: true, transports: ['websocket'] });
    await whenAuthenticated(socket);
  }
  return socket.emitWithAck('auth:join', { room });
}

for (const button of buttons) {
  button.addEventListener('click', async () => {
    const room = button.dataset.room;
    show(room, 'asking…');
    try {
      const reply = await joined(room);
      show(room, reply.ok ? 'joined' : `refused: ${reply.error.code} (next step: ${reply.error.action})`);
    } catch (err) {
      show(room, `failed: ${err?.message ?? err}`);
    }
  });
}
// Usable once logged in (the login button), like the table's buttons; a new login starts afresh.
document.querySelector('#login').addEventListener('click', () => {
  socket?.close();
  socket = undefined;
  answers.replaceChildren();
  for (const button of buttons) button.disabled = false;
});
document.querySelector('#logout').addEventListener('click', () => {
  for (const button of buttons) button.disabled = true;
});
