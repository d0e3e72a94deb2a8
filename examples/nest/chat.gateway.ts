/**
 * The example's gateway, written as a Nest user writes one: sockpass's
 * middleware installed in `afterInit` (a handshake without a valid token is
 * refused before any handler runs), a guard on the gateway (every message
 * needs an authenticated socket; `admin:*` needs the admin role, as a
 * sockpass guard policy), and the user and `socket.data.auth` as parameters.
 */
import { Inject, UseGuards } from '@nestjs/common';
import { MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer, type OnGatewayInit } from '@nestjs/websockets';
import type { Server } from 'socket.io';
import type { SockPass, SocketAuth } from 'sockpass';
import { SOCKPASS, SockPassGuard, WsAuth, WsUser, installSockPass } from 'sockpass/nest';
import type { DemoUser } from '../shared/example-app.js';

@UseGuards(SockPassGuard<DemoUser>({ 'admin:*': (auth) => auth.user.role === 'admin' }))
@WebSocketGateway({ cors: { origin: true } })
export class ChatGateway implements OnGatewayInit {
  @WebSocketServer()
  server!: Server;

  constructor(@Inject(SOCKPASS) private readonly auth: SockPass<DemoUser>) {}

  afterInit(server: Server): void {
    installSockPass(server, this.auth, ['jwt-auth']);
  }

  @SubscribeMessage('whoami')
  whoami(@WsUser() user: DemoUser): DemoUser {
    return user;
  }

  @SubscribeMessage('session')
  session(@WsAuth() auth: SocketAuth<DemoUser>): { strategy: string; expiresAt: Date | null } {
    return { strategy: auth.strategy, expiresAt: auth.expiresAt };
  }

  @SubscribeMessage('say')
  say(@WsUser() user: DemoUser, @MessageBody() text: unknown): { ok: boolean } {
    if (typeof text !== 'string' || text.length === 0 || text.length > 500) return { ok: false };
    this.server.emit('message', { from: user.name, text });
    return { ok: true };
  }

  @SubscribeMessage('admin:announce')
  announce(@WsUser() user: DemoUser, @MessageBody() text: unknown): { announced: string; by: string } {
    return { announced: String(text), by: user.name };
  }
}
