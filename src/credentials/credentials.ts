import { randomBytes } from 'node:crypto';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import type { Account, AccountStore } from '../accounts/account-store.js';
import { hashPassword } from '../accounts/password.js';
import type { PasswordPolicy } from '../accounts/password-policy.js';
import type { AuditLog } from '../admin/audit-log.js';
import type { Actor, RevocationResult, Revocations } from '../revocation/revocations.js';
import { returnLinkToCaller, type MailSender } from './mail-sender.js';

/** A password the policy refuses; the message is for the person who chose it. */
export class PasswordRejected extends Error {}

/** The account went away (deleted) while its password was being changed. */
export class AccountGone extends Error {}

/** CAEP credential-change `change_type` (OpenID CAEP 1.0 §3.2), as Latch publishes it (docs/events.md). */
export type ChangeType = 'create' | 'update' | 'revoke';

export interface PasswordChange {
  account: Account;
  password: string;
  by: Actor;
  /** The audit log's action name (`change-password`, `set-password`, `reset-password`). */
  action: string;
  /** Ask for another new password at the next login (an admin setting a temporary one). */
  mustChange?: boolean;
  /** Revoke every session and token of the account (default). */
  revokeSessions?: boolean;
  /** The current password, when the user typed it (the new one must differ). */
  current?: string;
  /** A ticket (reset link, forced change at login) that must still be valid: checked in the same step as the write. */
  ticket?: { field: 'reset' | 'pwc'; hash: string };
  detail?: Record<string, unknown>;
}

export interface ChangeResult {
  revocation?: RevocationResult;
  auditId: string;
}

export interface CredentialsOptions {
  store: RedisStore;
  accounts: AccountStore;
  revocations: Revocations;
  audit: AuditLog;
  policy: PasswordPolicy;
  issuer: string;
  /** Seconds a reset link lives (config `passwords.resetLinkTTL`). */
  resetLinkTTL: number;
  mailSender?: MailSender;
}

/** How long the new-password step of a login that requires one may take (seconds). */
const LOGIN_CHANGE_TTL = 600;
/** A ticket's token: the account's hash (22 base64url characters) then the secret (43). */
const TOKEN = /^([A-Za-z0-9_-]{22})([A-Za-z0-9_-]{43})$/;

export interface OpenTicket {
  account: Account;
  hash: string;
}

/**
 * Every password change goes through here, whoever makes it (the user on the account page, a
 * reset link, the forced change at login, security staff through the admin API), so each one is
 * checked by the same policy, stored by the same atomic write (which ends the account's reset links),
 * revokes the account's sessions and tokens through Revocations (published: back-channel logout and
 * Shared Signals hear it), publishes a `credential_change` security event and is audited.
 *
 * Reset links and forced-change tickets: a random 256-bit secret, of which only a keyed hash is
 * stored (account hash field `reset` / `pwc`, with its expiry on Redis's clock); the token handed
 * out is the account's key hash followed by the secret. Single use (the password write checks and
 * ends it in one script), replaced by a newer one, ended by any password change.
 */
export class Credentials {
  readonly policy: PasswordPolicy;
  readonly #o: CredentialsOptions;
  readonly #mail: MailSender;

  constructor(options: CredentialsOptions) {
    this.#o = options;
    this.policy = options.policy;
    this.#mail = options.mailSender ?? returnLinkToCaller;
  }

  /** The policy's objection to `password` for `account`, or undefined. */
  problem(password: string, account: Pick<Account, 'username' | 'email'>, current?: string): string | undefined {
    return this.policy.problem(password, { username: account.username, email: account.email, current });
  }

  async changePassword(change: PasswordChange): Promise<ChangeResult | 'bad-ticket'> {
    const { account, by } = change;
    const problem = this.problem(change.password, account, change.current);
    if (problem) throw new PasswordRejected(`the password ${problem}`);
    const hash = await hashPassword(change.password);
    const outcome = await this.#o.accounts.setPasswordHash(account.sub, hash, change.mustChange ?? false, change.ticket);
    if (outcome === 'bad-ticket') return 'bad-ticket';
    if (outcome === 'no-account') throw new AccountGone();
    return this.#changed(account, account.hasPassword ? 'update' : 'create', change.revokeSessions ?? true, by, change.action, change.detail);
  }

  /** The current password stops working now (only a reset link can set another); sessions and tokens are revoked. */
  async revokePassword(account: Account, by: Actor): Promise<ChangeResult> {
    if ((await this.#o.accounts.setPasswordHash(account.sub, '', false)) === 'no-account') throw new AccountGone();
    return this.#changed(account, 'revoke', true, by, 'revoke-password');
  }

  /** After a write of the password: revocation (published), the credential_change event, the audit entry. */
  async #changed(account: Account, changeType: ChangeType, revokeSessions: boolean, by: Actor, action: string, detail?: Record<string, unknown>): Promise<ChangeResult> {
    const { revocations, audit } = this.#o;
    const revocation = revokeSessions ? await revocations.revokeAccount(account.sub, by) : undefined;
    await this.credentialChanged(account.sub, changeType, by);
    const entry = await audit.append({
      actor: by.actor, action, target: `account:${account.username}`, reason: by.reason, count: revocation?.tokens ?? 0,
      detail: { change_type: changeType, sessions_revoked: revokeSessions, ...detail },
    });
    return { revocation, auditId: entry.id };
  }

  /** Publishes the security event Shared Signals maps to CAEP credential-change (docs/events.md). */
  async credentialChanged(sub: string, changeType: ChangeType, by: Actor): Promise<void> {
    await this.#o.revocations.events.publish({ type: 'security', kind: 'credential_change', sub, credential_type: 'password', change_type: changeType, ...by });
  }

  /**
   * A new reset (or set-up) link for the account, replacing any older one, handed to the mail
   * sender; the link itself is returned only when the sender did not deliver it.
   */
  async issueResetLink(account: Account, by: Actor, ttlSeconds = this.#o.resetLinkTTL): Promise<{ link?: string; expiresAt: number; delivered: boolean; auditId: string }> {
    const { token, hash } = this.#newTicket(account.sub, (secret) => secret);
    const expiresAt = await this.#o.store.run(() => this.#o.store.issueTicket(account.sub, 'reset', hash, ttlSeconds * 1000));
    if (expiresAt === undefined) throw new AccountGone();
    const link = `${this.#o.issuer}/account/reset/${token}`;
    const kind = account.hasPassword ? 'reset' : 'setup';
    const delivered = await this.#mail.send({ kind, sub: account.sub, username: account.username, email: account.email, link, expiresAt });
    const entry = await this.#o.audit.append({
      actor: by.actor, action: 'reset-link', target: `account:${account.username}`, reason: by.reason, count: 0,
      detail: { kind, expires_at: expiresAt, delivered },
    });
    return { ...(delivered ? {} : { link }), expiresAt, delivered, auditId: entry.id };
  }

  /** The account a reset link is for, while the link is valid (not used, replaced or expired). */
  openResetLink(token: string): Promise<OpenTicket | undefined> {
    return this.#open(token, 'reset', (secret) => secret);
  }

  /** Sets the password through a reset link: every session and token of the account ends. */
  async useResetLink(token: string, password: string): Promise<ChangeResult | 'bad-ticket'> {
    const open = await this.openResetLink(token);
    if (!open) return 'bad-ticket';
    return this.changePassword({
      account: open.account, password, action: 'reset-password', by: { actor: 'user', reason: 'password set with a reset link' },
      ticket: { field: 'reset', hash: open.hash },
    });
  }

  /** The ticket of a login that must choose a new password (bound to its interaction), as a form token. */
  async issueLoginChange(account: Account, uid: string): Promise<string | undefined> {
    const { token, hash } = this.#newTicket(account.sub, (secret) => `${uid}\0${secret}`);
    const expires = await this.#o.store.run(() => this.#o.store.issueTicket(account.sub, 'pwc', hash, LOGIN_CHANGE_TTL * 1000));
    return expires === undefined ? undefined : token;
  }

  openLoginChange(token: string, uid: string): Promise<OpenTicket | undefined> {
    return this.#open(token, 'pwc', (secret) => `${uid}\0${secret}`);
  }

  #newTicket(sub: string, bound: (secret: string) => string): { token: string; hash: string } {
    const secret = randomBytes(32).toString('base64url');
    return { token: `${this.#o.store.keys.accountHash(sub)}${secret}`, hash: this.#o.store.keys.hash('pw-ticket', bound(secret)) };
  }

  async #open(token: string, field: 'reset' | 'pwc', bound: (secret: string) => string): Promise<OpenTicket | undefined> {
    const match = TOKEN.exec(token);
    if (!match) return undefined;
    const { store, accounts } = this.#o;
    const [sub, ticket] = await store.run((redis) => redis.hmget(store.keys.accountByHash(match[1]!), 'sub', field));
    const hash = store.keys.hash('pw-ticket', bound(match[2]!));
    const space = ticket?.indexOf(' ') ?? -1;
    if (!sub || !ticket || space < 0 || ticket.slice(0, space) !== hash || Number(ticket.slice(space + 1)) <= Date.now()) return undefined;
    const account = await accounts.findBySub(sub);
    return account ? { account, hash } : undefined;
  }
}
