import type { Context } from 'koa';
import { z } from 'zod';
import { fieldPath } from '../config/config-error.js';
import { InvalidRequest } from '../errors/oauth-error.js';
import type { AdminCaller } from './bearer-auth.js';

/** What the admin API's route tables are made of (admin-routes.ts mounts them and renders their errors). */
export type Handler = (ctx: Context, params: string[], caller: AdminCaller) => Promise<unknown>;

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  pattern: RegExp;
  scope: 'admin:read' | 'admin:write';
  handler: Handler;
}

/** 404 `not_found`: no such account, client, session, job or API. */
export class NotFound extends Error {
  readonly status = 404;
}

/** 409 `conflict`: the write would overwrite or re-create something that must not be (a taken username, a deleted subject, an API of the config file). */
export class Conflict extends Error {
  readonly status = 409;
}

export const SEGMENT = '([^/]{1,256})';

/** A path segment, percent-decoded; malformed encoding (`%`, `%zz`, a cut UTF-8 sequence) is the caller's error. */
export function segment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidRequest('malformed percent-encoding in the path');
  }
}

/** Validates with zod; the error names the field, like config errors do. */
export function validate<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = fieldPath(issue.path) || 'body';
  const message = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
  throw new InvalidRequest(`${field}: ${message}`);
}
