/**
 * A sockpass refusal in Nest's WebSocket exception flow: a `WsException`
 * whose error is an object, so Nest's `BaseWsExceptionFilter` sends it to the
 * client as is, in the `exception` event: `{ status: 'error', code, message,
 * action, event }` with sockpass's stable code and the client's next step.
 *
 * @module
 */
import { WsException } from '@nestjs/websockets';
import { actionFor, type AuthErrorCode, type ClientAction } from '../errors.js';

/** What the client receives in Nest's `exception` event when a sockpass guard refuses a message. */
export interface SockPassWsError {
  /** As Nest's own WS errors say. */
  status: 'error';
  /** sockpass's code: `forbidden`, `credentials_required`, `token_expired`. */
  code: AuthErrorCode;
  /** Says what was refused; never a credential. */
  message: string;
  /** What the client should do next, as beside every sockpass code. */
  action: ClientAction;
  /** The event the refused message was sent as. */
  event: string;
}

/** A refused message, carrying sockpass's code through Nest's exception filters. */
export class SockPassWsException extends WsException {
  /** sockpass's code, for exception filters of the app. */
  readonly code: AuthErrorCode;

  constructor(code: AuthErrorCode, message: string, event: string) {
    super({ status: 'error', code, message, action: actionFor(code), event } satisfies SockPassWsError);
    this.code = code;
  }
}
