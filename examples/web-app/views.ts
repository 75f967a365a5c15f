const escape = (value: unknown) =>
  String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head><body>${body}</body></html>`;
}

const button = (action: string, label: string, id: string) => `<form method="post" action="${action}"><button id="${id}" type="submit">${escape(label)}</button></form>`;

export function homePage(user: { name?: string; username?: string; email?: string } | undefined, notice?: string): string {
  const note = notice ? `<p id="notice" role="status">${escape(notice)}</p>` : '';
  if (!user) return page('Demo app', `<h1>Demo app</h1>${note}<p>You are signed out.</p><a id="login" href="/login">Sign in with Latch</a>`);
  return page(
    'Demo app',
    `<h1>Demo app</h1>${note}<p id="user">Signed in as <strong>${escape(user.username ?? user.name ?? '')}</strong> ${escape(user.email ?? '')}</p>
    <a id="orders" href="/orders">My orders</a>
    <a id="address-link" href="/address">Delivery address</a>
    ${button('/refresh', 'Refresh access token', 'refresh')}
    ${button('/logout', 'Sign out', 'logout')}`,
  );
}

export interface OrdersView {
  orders: Array<{ id: number; item: string; placedAt: string }>;
  permissions: { scopes: string[]; roles: string[]; username: string | null };
}

export function ordersPage(view: OrdersView): string {
  return page(
    'My orders',
    `<h1>My orders</h1>
    <ul id="order-list">${view.orders.map((o) => `<li>#${o.id} ${escape(o.item)}</li>`).join('')}</ul>
    <p id="permissions">Live permissions of this token: scopes <code>${escape(view.permissions.scopes.join(' '))}</code>, roles <code>${escape(view.permissions.roles.join(' ') || '(none)')}</code></p>
    <form method="post" action="/orders"><input id="item" name="item" required maxlength="100"><button id="place" type="submit">Place order</button></form>
    <a href="/">Home</a>`,
  );
}

/** The delivery address; changing it needs a recent sign-in at the API (step-up). */
export function addressPage(address: string, notice?: string): string {
  const note = notice ? `<p id="notice" role="status">${escape(notice)}</p>` : '';
  return page(
    'Delivery address',
    `<h1>Delivery address</h1>${note}
    <p>Orders go to: <strong id="current-address">${escape(address || '(not set)')}</strong></p>
    <form method="post" action="/address"><input id="new-address" name="address" required maxlength="200"><button id="save-address" type="submit">Change address</button></form>
    <p>Changing it asks you to sign in again if your last sign-in is not recent.</p>
    <a href="/">Home</a>`,
  );
}

export function errorPage(status: number, message: string): string {
  return page('Error', `<h1>Error ${status}</h1><p id="error">${escape(message)}</p><a href="/">Home</a>`);
}
