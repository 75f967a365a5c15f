import { z } from 'zod';
import { resourceServerSchema } from '../config/schema.js';
import { reasonBody } from './schemas.js';

const reason = reasonBody.shape.reason;
const fields = resourceServerSchema.shape;

/** Longest audience the admin API stores (it is also a path segment, percent-encoded). */
export const MAX_AUDIENCE_LENGTH = 2000;

/**
 * A resource server registered through the admin API: the config's `resourceServers[]` entry, field
 * for field and with the same rules (src/config/schema.ts), plus the reason for the audit log.
 */
export const createApiBody = z.strictObject({
  audience: fields.audience.pipe(z.string().max(MAX_AUDIENCE_LENGTH)),
  name: fields.name.pipe(z.string().max(200)),
  scopes: fields.scopes,
  claims: fields.claims,
  introspectors: fields.introspectors,
  accessTokenTTL: fields.accessTokenTTL,
  reason,
});

/** A change: the fields given replace the stored ones (a list replaces the whole list); the audience never changes. */
export const updateApiBody = z
  .strictObject({
    name: createApiBody.shape.name.optional(),
    scopes: fields.scopes.optional(),
    claims: fields.claims.unwrap().optional(),
    introspectors: fields.introspectors.unwrap().optional(),
    accessTokenTTL: fields.accessTokenTTL.unwrap().optional(),
    reason,
  })
  .refine((body) => Object.keys(body).some((key) => key !== 'reason'), { message: 'give at least one of name, scopes, claims, introspectors, accessTokenTTL' });

/** DELETE takes its reason as a JSON body or, for clients that send no body with DELETE, `?reason=`. */
export const deleteApiBody = z.strictObject({ reason });
