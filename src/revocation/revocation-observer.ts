import type { Actor } from './revocations.js';

/** The revocation state a record was judged by before an epoch was stamped (Redis ms; 0 = none). */
export interface PriorState {
  disabled: boolean;
  /** The account's epoch, or the account+client one, or the client's: whichever the revocation stamps. */
  epoch: number;
}

/**
 * Hears, from `Revocations`, what each revocation ended, while the records that say so (browser
 * sessions with their per-client `sid`, grants) are still readable: the cleanup job that follows
 * an epoch tombstones them. Back-channel logout (src/backchannel/) is the observer; it must know
 * exactly which sessions of which apps ended, on every path.
 */
export interface RevocationObserver {
  /** Before an account epoch (`clientId`: an account+client one) is stamped: the state it replaces. */
  beforeAccountEpoch(sub: string, clientId?: string): Promise<PriorState>;
  /** The epoch is stamped: everything of the account (of that client) it killed has ended. */
  accountEpoch(sub: string, clientId: string | undefined, prior: PriorState, by: Actor): Promise<void>;
  /** Before a client's epoch is stamped. */
  beforeClientEpoch(clientId: string): Promise<PriorState>;
  /**
   * The client's epoch is stamped and cleanup job `job` created. True: the observer runs that
   * cleanup itself, durably (through `Revocations.cleanUpClient`), reading each grant before it
   * goes; false: Revocations runs it.
   */
  clientEpoch(clientId: string, epoch: number, prior: PriorState, job: string, by: Actor): Promise<boolean>;
  /**
   * A device session is about to end: its grant and the browser sessions holding it. Returns what
   * to call once they are deleted.
   */
  beforeDeviceEnd(sub: string, grantKey: string, clientId: string | undefined, sessionKeys: string[]): Promise<(by: Actor) => Promise<void>>;
  /** A grant ended (admin revoke-token, or a death inside oidc-provider); `request` dedupes within one request. */
  grantEnded(grant: { grantId: string; clientId?: string; sub?: string }, by: Actor, request?: object): Promise<void>;
}
