// Turns a request body into a list of candidate events, by Content-Type. Whole-body problems
// (bad UTF-8, not JSON at all) are a 400; one bad NDJSON line is that event's error only.
import { HttpError } from './http-error.js';

export type BodyFormat = 'json' | 'ndjson' | 'cloudevents-batch' | 'cloudevent';

export type ParsedItem = { ok: true; value: unknown } | { ok: false; message: string; raw: string };

const formats: Record<string, BodyFormat> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'application/cloudevents-batch+json': 'cloudevents-batch',
  'application/cloudevents+json': 'cloudevent',
};

export const acceptedContentTypes = Object.keys(formats);

export function formatOf(contentType: string | undefined): BodyFormat {
  const mime = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const f = formats[mime];
  if (!f) {
    throw new HttpError(
      'UNSUPPORTED_CONTENT_TYPE',
      `Content-Type ${contentType ? `"${contentType}"` : '(none)'} is not accepted here; send one of: ${acceptedContentTypes.join(', ')}`,
    );
  }
  return f;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeUtf8(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new HttpError('MALFORMED_BODY', 'the body is not valid UTF-8');
  }
}

/**
 * Deepest JSON nesting accepted. JSON.parse copes with any depth, but JSON.stringify, schema
 * validation and the envelope recurse: 100k levels of `[` overflowed the stack (a 500).
 */
export const MAX_JSON_DEPTH = 512;

/** Why JSON text nests too deep, or undefined; a scan of brackets outside strings, no parse. */
export function depthProblem(text: string, what: string): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH)
        return `${what} nests JSON arrays/objects more than ${MAX_JSON_DEPTH} levels deep`;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return undefined;
}

/** JSON.parse, with the depth limit; failures are MALFORMED_BODY naming `what`. */
export function parseJson(text: string, what: string): unknown {
  const deep = depthProblem(text, what);
  if (deep) throw new HttpError('MALFORMED_BODY', deep);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError('MALFORMED_BODY', `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

export function parseBody(body: Buffer, format: BodyFormat): ParsedItem[] {
  const text = decodeUtf8(body);
  if (text.trim() === '') throw new HttpError('MALFORMED_BODY', 'the body is empty: send at least one event');
  switch (format) {
    case 'json':
    case 'cloudevents-batch': {
      const value = parseJson(text, 'the body');
      if (Array.isArray(value)) {
        if (value.length === 0)
          throw new HttpError('MALFORMED_BODY', 'the body is an empty array: send at least one event');
        return value.map((v) => ({ ok: true, value: v as unknown }));
      }
      if (format === 'cloudevents-batch')
        throw new HttpError('MALFORMED_BODY', 'a CloudEvents batch must be a JSON array');
      return [{ ok: true, value }];
    }
    case 'cloudevent':
      return [{ ok: true, value: parseJson(text, 'the body') }];
    case 'ndjson': {
      const items: ParsedItem[] = [];
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        try {
          items.push({ ok: true, value: parseJson(line, 'this NDJSON line') });
        } catch (err) {
          items.push({ ok: false, message: (err as Error).message, raw: line });
        }
      }
      return items;
    }
  }
}
