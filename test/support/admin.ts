import { parseJson, postForm } from './oauth.js';
import { ADMIN_API, SECRETS } from './test-config.js';

/** A client-credentials access token for the admin API. */
export async function adminToken(issuer: string, client: 'security-admin' | 'auditor' = 'security-admin', scope?: string): Promise<string> {
  const secret = client === 'security-admin' ? SECRETS.admin : SECRETS.auditor;
  const form: Record<string, string> = { grant_type: 'client_credentials', resource: ADMIN_API };
  form.scope = scope ?? (client === 'security-admin' ? 'admin:read admin:write' : 'admin:read');
  const { json, status } = await postForm(`${issuer}/token`, form, [client, secret]);
  if (status !== 200) throw new Error(`admin token: ${status} ${JSON.stringify(json)}`);
  return json!.access_token as string;
}

/** Calls the admin API; returns status, headers and parsed JSON. */
export async function adminCall(issuer: string, method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${issuer}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const json = parseJson(text);
  return { status: response.status, headers: response.headers, json };
}

/** Polls `GET /admin/jobs/{id}` until the cleanup job is done; returns its last state. */
export async function jobDone(issuer: string, token: string, job: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 500; i++) {
    const { json } = await adminCall(issuer, 'GET', `/admin/jobs/${job}`, token);
    if (json!.state === 'done') return json!;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`cleanup job ${job} did not finish`);
}
