import { ResourceServers, type ResourceServer } from '../../src/provider/resource-servers.js';
import { apiFileConfig, NEW_API } from '../support/api-config.js';
import { API_A } from '../support/test-config.js';

/** The resource-server table: config APIs and APIs registered at run time, as every reader sees them. */
const managed = (fields: Partial<ResourceServer> = {}): ResourceServer => ({
  audience: NEW_API, name: 'New', scopes: ['n:read', 'n:write'], claims: ['email'], introspectors: ['api-b'], accessTokenTTL: 60,
  managedBy: 'admin', createdAt: 1_700_000_000_000, updatedAt: 1_700_000_000_000, rev: 1, ...fields,
});

/** A client's resources, as the hooks read them from the client at hand. */
const tools = apiFileConfig().clients.find((c) => c.client_id === 'tools')!;

describe('ResourceServers', () => {
  it('serves a run-time API to every lookup once the table has it, and forgets it once removed', () => {
    const table = new ResourceServers(apiFileConfig());
    let changes = 0;
    table.onChange(() => changes++);
    expect(table.get(NEW_API)).toBeUndefined();
    expect(table.defaultFor(tools, ['n:read'])).toBeUndefined();

    table.replaceManaged([managed()]);
    expect(changes).toBe(1);
    expect(table.get(NEW_API)).toEqual(managed());
    expect(table.defaultFor(tools, ['n:read'])).toBe(NEW_API);
    expect([...table.introspectableBy('api-b')].sort()).toEqual(['https://b.api.test', NEW_API]);
    expect(table.scopes()).toEqual(expect.arrayContaining(['a:read', 'n:read', 'n:write']));

    table.replaceManaged([]);
    expect(table.get(NEW_API)).toBeUndefined();
    expect([...table.introspectableBy('api-b')]).toEqual(['https://b.api.test']);
    expect(table.scopes()).not.toContain('n:read');
  });

  it('keeps a config API over a stored one of the same audience', () => {
    const table = new ResourceServers(apiFileConfig());
    table.replaceManaged([managed({ audience: API_A, scopes: ['x'] })]);
    expect(table.get(API_A)).toMatchObject({ managedBy: 'config', scopes: ['a:read', 'a:write'] });
    expect(table.configured(API_A)).toBeDefined();
    expect(table.configured(NEW_API)).toBeUndefined();
  });

  it('tells whether a token is one of a known API: unknown audience no, issued before the API was (re-)created no, within the skew allowance yes', () => {
    const table = new ResourceServers(apiFileConfig());
    const created = managed().createdAt! / 1000;
    table.replaceManaged([managed()]);
    expect(table.issuedFor(undefined, 1, 5)).toBe(true);
    expect(table.issuedFor(API_A, 1, 5)).toBe(true);
    expect(table.issuedFor('https://gone.test', created, 5)).toBe(false);
    expect(table.issuedFor(NEW_API, created + 1, 5)).toBe(true);
    expect(table.issuedFor(NEW_API, created - 5, 5)).toBe(true);
    expect(table.issuedFor(NEW_API, created - 6, 5)).toBe(false);
  });

  it('narrows a token’s scope to what its run-time API has now; config APIs’ tokens keep theirs', () => {
    const table = new ResourceServers(apiFileConfig());
    table.replaceManaged([managed({ scopes: ['n:write'] })]);
    expect(table.currentScope(NEW_API, 'n:read n:write')).toBe('n:write');
    expect(table.currentScope(NEW_API, 'n:read')).toBe('');
    expect(table.currentScope(API_A, 'a:read gone')).toBe('a:read gone');
    expect(table.currentScope(undefined, 'openid')).toBe('openid');
  });
});
