/**
 * HTTP routes of the example: `POST /login` issues a token for a demo
 * account, `POST /revoke` (admin token) revokes a user's credentials and
 * cuts their sockets on every node. Dependencies are injected by token, so
 * the example needs no emitted decorator metadata.
 */
import { Body, Controller, Headers, HttpException, Inject, Post } from '@nestjs/common';
import type { SockPass } from 'sockpass';
import { SOCKPASS } from 'sockpass/nest';
import { ChatGateway } from './chat.gateway.js';
import { checkPassword, type DemoUser, type IssuedToken, type TokenIssuer } from '../shared/example-app.js';

/** Injection token of the example's token issuer. */
export const TOKENS = Symbol('tokens');

@Controller()
export class LoginController {
  constructor(
    @Inject(TOKENS) private readonly tokens: TokenIssuer,
    @Inject(SOCKPASS) private readonly auth: SockPass<DemoUser>,
    @Inject(ChatGateway) private readonly gateway: ChatGateway,
  ) {}

  @Post('login')
  login(@Body() body: { username?: unknown; password?: unknown } | undefined): { user: DemoUser } & IssuedToken {
    const user = checkPassword(body?.username, body?.password);
    if (user === undefined) throw new HttpException({ error: 'wrong user name or password' }, 401);
    return { user, ...this.tokens.issue(user) };
  }

  @Post('revoke')
  async revoke(@Headers('authorization') authorization: string | undefined, @Body() body: { user?: unknown } | undefined): Promise<{ revoked: string }> {
    const admin = this.tokens.verify(authorization?.replace(/^bearer\s+/i, ''));
    if (admin?.role !== 'admin') throw new HttpException({ error: 'admins only' }, 403);
    const user = String(body?.user ?? '');
    await this.auth.revoke(this.gateway.server, { user }, 'revoked by an admin');
    return { revoked: user };
  }
}
