// Checks on metadata answers: a captive portal, a proxy error page or a wrong
// server answers 200 with HTML, and binary junk must not become a hostname.
// Each check names the URL and the reason, so the message alone explains it.
import { DatasourceError } from '../errors';
import type { HttpResponse } from '../host/host';

const HTML_START = /^\s*<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])/i;

/** True when the answer is an HTML page (by its content type or its first tag). */
export function looksLikeHtml(res: HttpResponse): boolean {
  const type = (res.headers['content-type'] ?? '').toLowerCase();
  if (type.includes('text/html') || type.includes('application/xhtml')) return true;
  return HTML_START.test(res.body.subarray(0, 512).toString('latin1'));
}

/** The body as UTF-8 text; DatasourceError when it is HTML, binary or not UTF-8. */
export function textBody(res: HttpResponse, expected = 'text'): string {
  if (looksLikeHtml(res)) throw new DatasourceError(res.url, `answered with an HTML page where ${expected} was expected (not a metadata service?)`);
  if (res.body.includes(0)) throw new DatasourceError(res.url, `answered with binary data (NUL bytes) where ${expected} was expected`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(res.body);
  } catch (err) {
    throw new DatasourceError(res.url, `answer is not valid UTF-8 where ${expected} was expected`, { cause: err });
  }
}

/** The body parsed as JSON; DatasourceError when it is HTML or not JSON. */
export function jsonBody(res: HttpResponse): unknown {
  const text = textBody(res, 'JSON');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new DatasourceError(res.url, `answer is not valid JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** DatasourceError for a status the caller did not expect. */
export function unexpectedStatus(res: HttpResponse, context = ''): DatasourceError {
  return new DatasourceError(res.url, `unexpected HTTP ${res.status}${context ? ` ${context}` : ''}`);
}
