/**
 * A minimal browser over fetch: keeps cookies, follows redirects by hand, and can submit the forms
 * of Latch's server-rendered pages. Used to drive login and consent over real HTTP.
 */
export class BrowserSession {
  readonly cookies = new Map<string, string>();

  #remember(response: Response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /expires=Thu, 01 Jan 1970/i.test(a)) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    if (!headers.has('accept')) headers.set('accept', 'text/html');
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.#remember(response);
    return response;
  }

  /** GETs `url` and follows redirects until one leaves `origin` or a page is returned. */
  async follow(url: string, origin: string): Promise<{ url: string; response?: Response; html?: string }> {
    let next = url;
    for (let hops = 0; hops < 20; hops++) {
      if (!next.startsWith(origin)) return { url: next };
      const response = await this.request(next);
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        next = new URL(location, next).href;
        continue;
      }
      return { url: next, response, html: await response.text() };
    }
    throw new Error('too many redirects');
  }

  /** Submits a form of `html` (the one whose action ends with `actionSuffix`) with extra fields. */
  async submit(pageUrl: string, html: string, actionSuffix: string, fields: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<Response> {
    const forms = [...html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)];
    const form = forms.find((f) => f[1]!.endsWith(actionSuffix));
    if (!form) throw new Error(`no form ending with ${actionSuffix} on ${pageUrl}`);
    const body = new URLSearchParams();
    for (const input of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) {
      body.set(input[1]!, input[2]!.replace(/&amp;/g, '&'));
    }
    for (const [k, v] of Object.entries(fields)) body.set(k, v);
    return this.request(new URL(form[1]!, pageUrl).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body,
    });
  }
}
