/**
 * A sockpass refusal in Nest's WebSocket exception flow: a `WsException`
 * whose error is an object, so Nest's `BaseWsExceptionFilter` sends it to the
 * client as is, in the `exception` event: `{ status: 'error', code, message,
 * event }` with sockpass's stable code.
 *
 * @module
 */
import { WsException } from '@nestjs/websockets';
import type { AuthErrorCode } from '../errors.js';

/** What the client receives in Nest's `exception` event when a sockpass guard refuses a message. */
export interface SockPassWsError {
  /** As Nest's own WS errors say. */
  status: 'error';
  /** sockpass's code: `forbidden`, `credentials_required`, `token_expired`. */
  code: AuthErrorCode;
  /** Says what was refused; never a credential. */
  message: string;
  /** The event the refused message was sent as. */
  event: string;
}

/** A refused message, carrying sockpass's code through Nest's exception filters. */
export class SockPassWsException extends WsException {
  /** sockpass's code, for exception filters of the app. */
  readonly code: AuthErrorCode;

  constructor(code: AuthErrorCode, message: string, event: string) {
    super({ status: 'error', code, message, event } satisfies SockPassWsError);
    this.code = code;
  }
}
