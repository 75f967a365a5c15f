/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Tagged template that escapes every interpolated value unless it is already `Html`. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((value, i) => {
    const rendered = Array.isArray(value)
      ? value.map((v) => (v instanceof Html ? v.value : escapeHtml(v))).join('')
      : value instanceof Html
        ? value.value
        : value === undefined || value === null || value === false
          ? ''
          : escapeHtml(value);
    out += rendered + strings[i + 1]!;
  });
  return new Html(out);
}

/**
 * The page frame. No inline script or style anywhere: the CSP allows only same-origin assets.
 */
export function page(title: string, body: Html, width: 'narrow' | 'wide' = 'narrow'): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <title>${title} · Latch</title>
  <link rel="stylesheet" href="/assets/latch.css">
</head>
<body>
  <main class="card${width === 'wide' ? ' wide' : ''}">
    <p class="brand">Latch</p>
    ${body}
  </main>
</body>
</html>`.value;
}
