/**
 * The injection token under which a Nest application provides its sockpass
 * registry, and the module that provides it, so guards can be classes Nest
 * builds (`@UseGuards(SockPassGuard(policy))`) and gateways can inject the
 * registry they install.
 *
 * @module
 */
import { Module, type DynamicModule } from '@nestjs/common';
import type { SockPass } from '../registry.js';

/** Injection token of the app's `SockPass` registry: `@Inject(SOCKPASS) auth: SockPass<User>`. */
export const SOCKPASS = Symbol.for('sockpass:registry');

/** Options of {@link SockPassModule.forRoot}. */
export interface SockPassModuleOptions<U> {
  /** The registry the gateways install and the guards consult. */
  registry: SockPass<U>;
}

/**
 * Provides one registry to the whole application (a global module).
 *
 * @example
 * ```ts
 * @Module({ imports: [SockPassModule.forRoot({ registry: auth })], providers: [ChatGateway] })
 * class AppModule {}
 * ```
 */
export class SockPassModule {
  /** A global module exporting the registry under {@link SOCKPASS}. */
  static forRoot<U>(options: SockPassModuleOptions<U>): DynamicModule {
    if (typeof options?.registry?.middleware !== 'function') throw new TypeError('sockpass/nest: SockPassModule.forRoot() needs `registry`, a SockPass');
    return {
      module: SockPassModule,
      global: true,
      providers: [{ provide: SOCKPASS, useValue: options.registry }],
      exports: [SOCKPASS],
    };
  }
}
Module({})(SockPassModule);
