import { z } from 'zod';

export const reasonBody = z.strictObject({
  reason: z
    .string({ error: (issue) => (issue.input === undefined ? 'is required: say why (it goes to the audit log)' : 'must be a string') })
    .trim()
    .min(1, 'is required: say why (it goes to the audit log)')
    .max(500),
});

export const tokenBody = z.strictObject({
  token: z.string().min(1).max(4096),
  reason: reasonBody.shape.reason,
});

export const rolesBody = z.strictObject({
  roles: z.array(z.string().regex(/^[a-z0-9:_-]{1,64}$/i, 'must be a role name')).max(50),
  reason: reasonBody.shape.reason,
});

export const auditQuery = z.strictObject({
  after: z.string().regex(/^\d+-\d+$/, 'must be an audit entry id').optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
