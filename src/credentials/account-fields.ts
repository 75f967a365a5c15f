import { z } from 'zod';
import { accountSchema } from '../config/schema.js';

/**
 * The fields of an account as the admin API and the import take them: the config's rules for the
 * username, OIDC Core §2 for the subject (at most 255 ASCII characters; visible ones here, so it
 * reads back unchanged everywhere), and bounds on everything else.
 */
export const accountFields = {
  username: accountSchema.shape.username,
  sub: z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 visible ASCII characters (OpenID Connect Core §2)'),
  email: z.email().max(254),
  name: z.string().trim().min(1).max(200),
  roles: z.array(z.string().regex(/^[a-z0-9:_-]{1,64}$/i, 'must be a role name')).max(50),
};
