import { randomBytes } from 'node:crypto';
import { BadCursor, listAccounts } from '../accounts/account-list.js';
import type { Account, AccountStore } from '../accounts/account-store.js';
import { hashPassword } from '../accounts/password.js';
import type { RolePolicy } from '../accounts/role-policy.js';
import { AccountImport, MAX_IMPORT_LINES } from '../credentials/account-import.js';
import { AccountGone, PasswordRejected, type Credentials } from '../credentials/credentials.js';
import { InvalidRequest } from '../errors/oauth-error.js';
import { BodyTooLarge, readBody, readJson } from '../http/request-body.js';
import type { Logger } from '../log/logger.js';
import type { RevocationResult } from '../revocation/revocations.js';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import type { AuditLog } from './audit-log.js';
import type { AdminCaller } from './bearer-auth.js';
import { createAccountBody, importQuery, listQuery, requireChangeBody, resetLinkBody, setPasswordBody, updateProfileBody } from './account-schemas.js';
import { Conflict, NotFound, SEGMENT, validate, type Route } from './route-table.js';

/** The account as the admin API shows it (docs/admin-api.md). */
export function accountView(account: Account) {
  return {
    sub: account.sub,
    username: account.username,
    email: account.email,
    name: account.name,
    roles: account.roles,
    disabled: account.disabled,
    has_password: account.hasPassword,
    password_change_required: account.passwordChangeRequired,
    created_at: account.createdAt,
    password_changed_at: account.passwordChangedAt,
  };
}

export interface AccountAdminDependencies {
  store: RedisStore;
  accounts: AccountStore;
  credentials: Credentials;
  roles: RolePolicy;
  audit: AuditLog;
  logger: Logger;
  /** admin-routes.ts's: the account of a path segment (404 when none). */
  account(username: string): Promise<Account>;
  /** admin-routes.ts's: audits a write and answers with its id. */
  written(caller: AdminCaller, action: string, target: string, reason: string, result: RevocationResult | undefined, detail?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

const IMPORT_TYPES = ['application/x-ndjson', 'application/jsonl', 'application/json-lines'];

/**
 * Accounts managed at run time: list and search, create, update the profile, set a password,
 * require a change at the next login, reset links, bulk import. Every password write goes through
 * Credentials (one policy, one atomic write, revocation, credential_change event, audit).
 */
export function accountAdminRoutes(deps: AccountAdminDependencies): Route[] {
  const { store, accounts, credentials, roles, logger, account, written } = deps;
  const importer = new AccountImport(accounts, credentials, roles, deps.audit);

  function knownRoles(list: readonly string[]): void {
    const unknown = list.findIndex((role) => !roles.has(role));
    if (unknown >= 0) throw new InvalidRequest(`roles[${unknown}]: no role "${list[unknown]}" in the configuration`);
  }

  function logged<T extends { audit_id?: unknown }>(caller: AdminCaller, action: string, target: string, answer: T): T {
    logger.info({ actor: caller.clientId, action, target, audit: answer.audit_id }, 'admin write');
    return answer;
  }

  /** Password writes: the policy's refusal is the caller's error, naming the field. */
  async function passwordWrite<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (err instanceof PasswordRejected) throw new InvalidRequest(`password: ${err.message.replace(/^the password /, '')}`);
      if (err instanceof AccountGone) throw new NotFound('the account was deleted meanwhile');
      throw err;
    }
  }

  return [
    {
      method: 'GET', pattern: /^\/admin\/accounts$/, scope: 'admin:read',
      handler: async function listOrSearchAccounts(ctx) {
        const query = validate(listQuery, { ...ctx.query });
        try {
          const page = await listAccounts(store, accounts, query);
          return { accounts: page.accounts.map(accountView), ...(page.nextCursor ? { next_cursor: page.nextCursor } : {}) };
        } catch (err) {
          if (err instanceof BadCursor) throw new InvalidRequest('cursor: is not a cursor of this listing (use next_cursor with the same prefix or email)');
          throw err;
        }
      },
    },
    {
      method: 'POST', pattern: /^\/admin\/accounts$/, scope: 'admin:write',
      handler: async function createAccount(ctx, _params, caller) {
        const body = validate(createAccountBody, await readJson(ctx));
        knownRoles(body.roles);
        const by = { actor: caller.clientId, reason: body.reason };
        const problem = body.password === undefined ? undefined : credentials.problem(body.password, body);
        if (problem) throw new InvalidRequest(`password: ${problem}`);
        // Run-time accounts get a random subject unless given one: a username can be reused after a
        // deletion, a subject never (its tombstone stays), so the two must not be the same by default.
        const sub = body.sub ?? randomBytes(16).toString('base64url');
        const passwordHash = body.password === undefined ? undefined : await hashPassword(body.password);
        const outcome = await accounts.createAccount({
          sub, username: body.username, email: body.email, name: body.name, roles: body.roles, passwordHash,
          passwordChangeRequired: body.password_change_required,
        });
        if (outcome === 'taken') throw new Conflict(`username "${body.username}" is taken`);
        if (outcome === 'exists') throw new Conflict(`sub "${sub}" already has an account`);
        if (outcome === 'deleted') throw new Conflict(`sub "${sub}" belonged to a deleted account; a deleted subject is never re-created`);
        const created = (await accounts.findBySub(sub))!;
        if (passwordHash) await credentials.credentialChanged(sub, 'create', by);
        const detail = { sub, roles: body.roles, password: passwordHash ? 'set' : 'set-up link' };
        const { audit_id } = await written(caller, 'create-account', `account:${body.username}`, body.reason, undefined, detail);
        const answer: Record<string, unknown> = { account: accountView(created), audit_id };
        if (!passwordHash) {
          const link = await passwordWrite(() => credentials.issueResetLink(created, by));
          answer.setup_link = { ...(link.link ? { link: link.link } : {}), expires_at: link.expiresAt, delivered: link.delivered, audit_id: link.auditId };
        }
        ctx.status = 201;
        return answer;
      },
    },
    {
      method: 'PATCH', pattern: new RegExp(`^/admin/accounts/${SEGMENT}$`), scope: 'admin:write',
      handler: async function updateProfile(ctx, [username], caller) {
        const body = validate(updateProfileBody, await readJson(ctx));
        const found = await account(username!);
        const updated = await accounts.updateProfile(found, { email: body.email, name: body.name });
        if (!updated) throw new NotFound('the account was deleted meanwhile');
        const previous = { email: found.email ?? null, name: found.name ?? null };
        const after = { email: updated.email ?? null, name: updated.name ?? null };
        const { audit_id } = await written(caller, 'update-account', `account:${found.username}`, body.reason, undefined, { before: previous, after });
        return { account: accountView(updated), previous, audit_id };
      },
    },
    {
      method: 'PUT', pattern: new RegExp(`^/admin/accounts/${SEGMENT}/password$`), scope: 'admin:write',
      handler: async function setPassword(ctx, [username], caller) {
        const body = validate(setPasswordBody, await readJson(ctx));
        const found = await account(username!);
        const change = await passwordWrite(() => credentials.changePassword({
          account: found, password: body.password, by: { actor: caller.clientId, reason: body.reason }, action: 'set-password',
          mustChange: body.password_change_required, revokeSessions: body.revoke_sessions,
        }));
        if (change === 'bad-ticket') throw new Error('unreachable: no ticket');
        const result = change.revocation ?? { grants: 0, sessions: 0, tokens: 0 };
        return logged(caller, 'set-password', `account:${found.username}`, { ...result, audit_id: change.auditId });
      },
    },
    {
      method: 'POST', pattern: new RegExp(`^/admin/accounts/${SEGMENT}/require-password-change$`), scope: 'admin:write',
      handler: async function requirePasswordChange(ctx, [username], caller) {
        const body = validate(requireChangeBody, await readJson(ctx));
        const found = await account(username!);
        if (!(await accounts.requirePasswordChange(found.sub, body.required))) throw new NotFound('the account was deleted meanwhile');
        const { audit_id } = await written(caller, 'require-password-change', `account:${found.username}`, body.reason, undefined, { required: body.required });
        return { password_change_required: body.required, audit_id };
      },
    },
    {
      method: 'POST', pattern: new RegExp(`^/admin/accounts/${SEGMENT}/reset-link$`), scope: 'admin:write',
      handler: async function resetLink(ctx, [username], caller) {
        const body = validate(resetLinkBody, await readJson(ctx));
        let found = await account(username!);
        const by = { actor: caller.clientId, reason: body.reason };
        const answer: Record<string, unknown> = {};
        if (body.revoke_password) {
          const revoked = await passwordWrite(() => credentials.revokePassword(found, by));
          answer.revoked = { ...(revoked.revocation ?? {}), audit_id: revoked.auditId };
          found = await account(username!);
        }
        const link = await passwordWrite(() => credentials.issueResetLink(found, by, body.ttl_seconds));
        Object.assign(answer, { ...(link.link ? { link: link.link } : {}), expires_at: link.expiresAt, delivered: link.delivered, audit_id: link.auditId });
        return logged(caller, 'reset-link', `account:${found.username}`, answer as { audit_id: string });
      },
    },
    {
      method: 'POST', pattern: /^\/admin\/accounts\/import$/, scope: 'admin:write',
      handler: async function importAccounts(ctx, _params, caller) {
        const query = validate(importQuery, { ...ctx.query });
        if (!ctx.is(IMPORT_TYPES)) throw new InvalidRequest(`expected a JSON lines body (${IMPORT_TYPES.join(', ')})`);
        let text: string;
        try {
          text = (await readBody(ctx.req, 4 * 1024 * 1024)).toString('utf8');
        } catch (err) {
          if (err instanceof BodyTooLarge) throw new InvalidRequest('request body too large (4 MiB at most: send the file in batches, as `latch admin import` does)');
          throw err;
        }
        const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
        if (lines > MAX_IMPORT_LINES) throw new InvalidRequest(`at most ${MAX_IMPORT_LINES} lines per request (this one has ${lines}): send the file in batches`);
        const report = await importer.run(text, {
          existing: query.existing, dryRun: query.dry_run === 'true', firstLine: query.first_line, by: { actor: caller.clientId, reason: query.reason },
        });
        if (!report.dry_run) logger.info({ actor: caller.clientId, action: 'import-accounts', created: report.created, skipped: report.skipped, failed: report.failed, audit: report.audit_id }, 'admin write');
        return report;
      },
    },
  ];
}
