import { z } from 'zod';
import { accountFields } from '../credentials/account-fields.js';
import { reasonBody } from './schemas.js';

const reason = reasonBody.shape.reason;
/** A new password as typed: the policy (password-policy.ts) says more; this only bounds the body. */
const password = z.string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') }).max(4096);

export const createAccountBody = z.strictObject({
  username: accountFields.username,
  sub: accountFields.sub.optional(),
  email: accountFields.email.optional(),
  name: accountFields.name.optional(),
  roles: accountFields.roles.default([]),
  /** Without one, the answer carries a set-up link (reset-link rules). */
  password: password.optional(),
  password_change_required: z.boolean().default(false),
  reason,
});

export const updateProfileBody = z
  .strictObject({ email: accountFields.email.nullable().optional(), name: accountFields.name.nullable().optional(), reason })
  .refine((body) => body.email !== undefined || body.name !== undefined, { message: 'give email and/or name (null removes one)' });

export const setPasswordBody = z.strictObject({
  password,
  password_change_required: z.boolean().default(false),
  /** Revoke every session and token of the account (default true). */
  revoke_sessions: z.boolean().default(true),
  reason,
});

export const requireChangeBody = z.strictObject({ required: z.boolean().default(true), reason });

export const resetLinkBody = z.strictObject({
  /** The current password stops working at once (and every session and token is revoked). */
  revoke_password: z.boolean().default(false),
  ttl_seconds: z.number().int().min(300).max(7 * 24 * 3600).optional(),
  reason,
});

export const listQuery = z
  .strictObject({
    prefix: z.string().max(64).optional(),
    email: z.string().min(1).max(254).optional(),
    cursor: z.string().regex(/^[A-Za-z0-9_-]{1,2000}$/, 'must be a cursor from a previous page').optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .refine((q) => q.prefix === undefined || q.email === undefined, { message: 'search by prefix or by email, not both' });

export const importQuery = z.strictObject({
  reason,
  existing: z.enum(['skip', 'fail']).default('skip'),
  dry_run: z.enum(['true', 'false']).default('false'),
  first_line: z.coerce.number().int().min(1).default(1),
});
