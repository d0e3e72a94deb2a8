/**
 * Example: sockpass in a NestJS application. `sockpass/nest` provides the
 * registry to the app (`SockPassModule.forRoot`), the gateway installs its
 * middleware in `afterInit`, and `SockPassGuard` / `@WsUser()` /
 * `@WsAuth()` work on its messages (see chat.gateway.ts). Tokens come from
 * `POST /login` (demo accounts alice / wonderland, admin; bob / builder).
 *
 * Run: `npx tsx examples/nest/server.ts` (PORT default 3016; TOKEN_TTL in seconds, default 60).
 */
import 'reflect-metadata';
import { Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { SockPass, jwtAuth } from 'sockpass';
import { SockPassModule } from 'sockpass/nest';
import { ChatGateway } from './chat.gateway.js';
import { LoginController, TOKENS } from './login.controller.js';
import { createTokenIssuer, userFromClaims, type DemoUser, type TokenIssuer } from '../shared/example-app.js';

export interface NestExampleOptions {
  /** 0 picks a free port. Default: `PORT`, else 3016. */
  port?: number;
  /** Default: all interfaces. */
  host?: string;
  /** Seconds a token lives. Default: `TOKEN_TTL`, else 60. */
  tokenTtl?: number;
}

export interface NestExample {
  url: string;
  app: INestApplication;
  auth: SockPass<DemoUser>;
  tokens: TokenIssuer;
  close(): Promise<void>;
}

@Module({})
class AppModule {
  static with(auth: SockPass<DemoUser>, tokens: TokenIssuer): DynamicModule {
    return {
      module: AppModule,
      imports: [SockPassModule.forRoot({ registry: auth })],
      controllers: [LoginController],
      providers: [ChatGateway, { provide: TOKENS, useValue: tokens }],
    };
  }
}

export async function createNestServer(options: NestExampleOptions = {}): Promise<NestExample> {
  const tokens = createTokenIssuer(options.tokenTtl ?? Number(process.env.TOKEN_TTL ?? 60));
  const auth = new SockPass<DemoUser>().use('jwt-auth', jwtAuth<DemoUser>({ secret: tokens.secret, algorithms: ['HS256'], user: userFromClaims }));
  const app = await NestFactory.create(AppModule.with(auth, tokens), { logger: ['error', 'warn'] });
  app.useWebSocketAdapter(new IoAdapter(app));
  await app.listen(options.port ?? Number(process.env.PORT ?? 3016), options.host ?? '0.0.0.0');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const host = options.host === undefined || options.host === '0.0.0.0' ? 'localhost' : options.host;
  return { url: `http://${host}:${port}`, app, auth, tokens, close: () => app.close() };
}

const entry = process.argv[1];
if (entry !== undefined && pathToFileURL(entry).href === import.meta.url) {
  createNestServer().then(
    (server) => {
      console.log(`sockpass nest example listening on ${server.url}`);
      const stop = () => void server.close().then(() => process.exit(0), () => process.exit(1));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
