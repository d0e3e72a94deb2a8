// A CommonJS app against the published declarations (the .d.cts files).
import sockpass = require('sockpass');

const auth = new sockpass.SockPass<{ id: string }>().use(
  'jwt-header',
  sockpass.jwtHeader({ secret: 'x'.repeat(32), algorithms: ['HS256'], user: (c) => ({ id: String(c.sub) }) }),
);
const mw: sockpass.SockPassMiddleware = auth.middleware('jwt-header');
void mw;
