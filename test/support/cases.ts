import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { authFor, type FieldSpec, hasIdParam, type InputRoute, type QueryKind, withId, type World } from './routes.js';

/**
 * Bad-input cases generated from the route table: for each route, every wrong thing that makes
 * sense for its body fields, query parameters, `:id` and headers. Each case knows the answer the
 * API owes it (API.md Conventions): a 4xx problem, never a 5xx, and nothing stored.
 */

export interface Expected {
  status: readonly number[];
  code?: string;
}

export interface BadCase {
  route: InputRoute;
  /** "body.quantity is 1.5", "id is 23 hex digits", ... */
  label: string;
  expected: Expected;
  request(world: World, id: string): InjectOptions;
}

const validation: Expected = { status: [400], code: 'VALIDATION_FAILED' };

/** A JSON literal the serializer cannot write (e.g. `1e400`, which parses to Infinity). */
export class Raw {
  constructor(readonly json: string) {}
}
type Value = unknown;

/** Serialises a body; Raw values are spliced in as written. */
export function serialise(body: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(body, (_key, value: unknown) => {
    if (value instanceof Raw) {
      raws.push(value.json);
      return `raw-marker-${raws.length - 1}`;
    }
    return value;
  });
  return text.replace(/"raw-marker-(\d+)"/g, (_m, i: string) => raws[Number(i)] as string);
}

const PROTO_MARKER = 'proto-marker-7f3a';
const LONE_SURROGATE = '\ud800';
const RTL_OVERRIDE = '\u202e';
const ZERO_WIDTH = '\u200b';
const NUL = '\u0000';

/** Values that are never a scalar field's value. */
const OPERATORS: [string, Value][] = [
  ['{"$gt": ""}', { $gt: '' }],
  ['{"$ne": null}', { $ne: null }],
  ['{"$where": "sleep(1000)"}', { $where: 'sleep(1000) || true' }],
  ['{"$regex": ".*"}', { $regex: '.*' }],
  ['{"$in": []}', { $in: [] }],
  ['{"$oid": "..."}', { $oid: '0123456789abcdef01234567' }],
];

function stringCases(spec: FieldSpec): [string, Value][] {
  const cases: [string, Value][] = [
    ['a number', 42],
    ['a boolean', true],
    ['an array', ['x']],
    ['an object', { a: 'b' }],
  ];
  if (!spec.nullable) cases.push(['null', null]);
  if (spec.maxLength !== undefined) {
    cases.push([`${spec.maxLength + 1} characters long`, 'a'.repeat(spec.maxLength + 1)]);
    cases.push(['100000 characters long (over the body limit)', 'a'.repeat(100_000)]);
  }
  if ((spec.minLength ?? 1) >= 1) cases.push(['an empty string', '']);
  return cases;
}

/** Wrong values per field kind, beyond the generic wrong types and operators. */
function kindCases(spec: FieldSpec): [string, Value][] {
  switch (spec.kind) {
    case 'email':
      return [
        ['not an email', 'not-an-email'],
        ['an email with a NUL', `ann${NUL}@example.test`],
        ['an email with a lone surrogate', `ann${LONE_SURROGATE}@example.test`],
        ['an email with an RTL override', `ann${RTL_OVERRIDE}@example.test`],
        ['an email with a zero-width space', `ann${ZERO_WIDTH}@example.test`],
        ['an email that is 300 characters long', `${'a'.repeat(288)}@example.test`],
      ];
    case 'password':
      return [
        ['73 bytes (over bcrypt\'s limit)', 'a'.repeat(73)],
        ['25 euro signs (75 bytes in UTF-8)', '€'.repeat(25)],
        ...(spec.minLength && spec.minLength > 1 ? ([['7 bytes (under the minimum)', 'seven77']] as [string, Value][]) : []),
      ];
    case 'text':
      return (spec.minLength ?? 0) >= 1 ? [['only white space', '   \t\n ']] : [];
    case 'token':
      return [['600 characters long', 'a'.repeat(600)]];
    case 'objectId':
      return [
        ['"abc"', 'abc'],
        ['23 hex digits', '0'.repeat(23)],
        ['25 hex digits', '0'.repeat(25)],
        ['24 non-hex letters', 'g'.repeat(24)],
        ['12 characters (castable to an ObjectId by Mongoose)', 'abcdefghijkl'],
        ['24 hex digits and a NUL', `${'0'.repeat(24)}${NUL}`],
        ['an RTL override and 23 hex digits', `${RTL_OVERRIDE}${'0'.repeat(23)}`],
        ['a lone surrogate and 23 hex digits', `${LONE_SURROGATE}${'0'.repeat(23)}`],
        ['24 hex digits and a zero-width space', `${'0'.repeat(24)}${ZERO_WIDTH}`],
      ];
    case 'int':
      return [
        ['the string "5"', '5'],
        ['1.5', 1.5],
        ['0.000001', 0.000001],
        ['-1', -1],
        ['-1e308', -1e308],
        ['1e308', 1e308],
        ['2^53', 2 ** 53],
        ['1e400 (Infinity once parsed)', new Raw('1e400')],
        ['-1e400 (-Infinity once parsed)', new Raw('-1e400')],
      ];
    case 'enum':
      return [
        ['an unknown value', 'Superuser'],
        ['a value with a leading space', ' organizer'],
        ['a value with a NUL', `organizer${NUL}`],
        ['a value with an RTL override', `${RTL_OVERRIDE}organizer`],
        ['a value with a zero-width space', `organizer${ZERO_WIDTH}`],
        ['a value with a lone surrogate', `organizer${LONE_SURROGATE}`],
      ];
    case 'datetime':
      return [
        ['"tomorrow"', 'tomorrow'],
        ['February 30th', '2031-02-30T10:00:00Z'],
        ['a date without a time', '2031-01-01'],
        ['a time without an offset', '2031-01-01T10:00:00'],
        ['a millisecond number', 1925000000000],
        ['a date with a NUL', `2031-01-01T10:00:00Z${NUL}`],
        ['a date with a lone surrogate', `2031-01-01T10:00:00Z${LONE_SURROGATE}`],
        ['year 275760 (past the Date range)', '+275760-09-14T00:00:00Z'],
      ];
    case 'currency':
      return [
        ['lower case', 'eur'],
        ['four letters', 'EURO'],
        ['a symbol', '€'],
        ['letters with a zero-width space', `EU${ZERO_WIDTH}R`],
        ['letters with a NUL', `EU${NUL}`],
      ];
  }
}

/** Every wrong value for one field, with the answer it must get. */
function fieldValues(spec: FieldSpec): [string, Value, Expected][] {
  const out: [string, Value, Expected][] = [];
  const isString = spec.kind !== 'int';
  const generic: [string, Value][] = isString
    ? stringCases(spec)
    : [
        ['a boolean', true],
        ['an array', [1]],
        ['an object', { n: 1 }],
        ...(spec.nullable ? [] : ([['null', null]] as [string, Value][])),
      ];
  for (const [label, value] of [...generic, ...OPERATORS, ...kindCases(spec)]) {
    // A refresh token of the right type and size is checked by the service (401), not the schema.
    const expected: Expected =
      spec.kind === 'token' && typeof value === 'string' && value.length > 0 && value.length <= (spec.maxLength ?? 0)
        ? { status: [401] }
        : label.includes('over the body limit')
          ? { status: [413], code: 'PAYLOAD_TOO_LARGE' }
          : validation;
    out.push([label, value, expected]);
  }
  return out;
}

function baseRequest(route: InputRoute, world: World, id: string): InjectOptions & { headers: Record<string, string> } {
  return {
    method: route.method,
    url: withId(route, id),
    headers: {
      ...authFor(route, world),
      ...(route.idempotent ? { 'idempotency-key': randomUUID() } : {}),
      'x-request-id': `bad-${randomUUID()}`,
    },
  };
}

const json = (route: InputRoute, world: World, id: string, payload: string): InjectOptions => {
  const req = baseRequest(route, world, id);
  return { ...req, headers: { ...req.headers, 'content-type': 'application/json' }, payload };
};

/** A valid body of the route (or `{}` for a route without one), to spoil one thing of. */
const validBody = (route: InputRoute, world: World) => route.body?.valid(world) ?? {};

function bodyCases(route: InputRoute): BadCase[] {
  const cases: BadCase[] = [];
  const add = (label: string, expected: Expected, make: (w: World, id: string) => InjectOptions) =>
    cases.push({ route, label, expected, request: make });
  const spec = route.body;

  if (spec) {
    if (!spec.absentIsValid) add('no body at all', { status: [400] }, (w, id) => baseRequest(route, w, id));
    if (!spec.emptyIsValid) add('body {}', validation, (w, id) => json(route, w, id, '{}'));
    add('body is a JSON array', validation, (w, id) => json(route, w, id, serialise([validBody(route, w)])));
    add('body is a JSON string', validation, (w, id) => json(route, w, id, '"hello"'));
    add('body is the JSON number 42', validation, (w, id) => json(route, w, id, '42'));
    // Where no body is fine, JSON null may mean the same (confirm takes either).
    if (!spec.absentIsValid) add('body is JSON null', { status: [400] }, (w, id) => json(route, w, id, 'null'));
    add('body is broken JSON', { status: [400], code: 'INVALID_JSON' }, (w, id) => json(route, w, id, '{"a":'));

    for (const [name, field] of Object.entries(spec.fields)) {
      if (field.required) {
        add(`body.${name} is missing`, validation, (w, id) => {
          const body = validBody(route, w);
          delete body[name];
          return json(route, w, id, serialise(body));
        });
      }
      for (const [label, value, expected] of fieldValues(field)) {
        add(`body.${name} is ${label}`, expected, (w, id) => json(route, w, id, serialise({ ...validBody(route, w), [name]: value })));
      }
      add(`body.${name} holds a __proto__ key`, { status: [400] }, (w, id) => {
        const text = serialise({ ...validBody(route, w), [name]: PROTO_MARKER });
        return json(route, w, id, text.replace(`"${PROTO_MARKER}"`, '{"__proto__":{"role":"admin"}}'));
      });
    }
  }

  // Unknown members, including ones a careless merge or query would act on.
  add('an unknown field', validation, (w, id) => json(route, w, id, serialise({ ...validBody(route, w), unknownField: true })));
  add('a "$where" field', validation, (w, id) => json(route, w, id, serialise({ ...validBody(route, w), $where: 'sleep(1000)' })));
  add('a "role": "admin" field (mass assignment)', validation, (w, id) =>
    json(route, w, id, serialise({ ...validBody(route, w), role: 'admin', isAdmin: true })),
  );
  // JSON.stringify cannot write a "__proto__" member of a plain object, so these are spliced in.
  const spliced = (w: World, member: string) => {
    const text = serialise(validBody(route, w));
    return text === '{}' ? `{${member}}` : `{${member},${text.slice(1)}`;
  };
  add('a "__proto__" member', { status: [400] }, (w, id) => json(route, w, id, spliced(w, '"__proto__":{"role":"admin","isAdmin":true}')));
  add('a "constructor" member', { status: [400] }, (w, id) =>
    json(route, w, id, spliced(w, '"constructor":{"prototype":{"role":"admin"}}')),
  );

  // Size and media type: checked before any route code runs.
  add('a body over 64 KiB', { status: [413], code: 'PAYLOAD_TOO_LARGE' }, (w, id) =>
    json(route, w, id, serialise({ ...validBody(route, w), padding: 'x'.repeat(70 * 1024) })),
  );
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x']) {
    add(`Content-Type ${type.split(';')[0]}`, { status: [415], code: 'UNSUPPORTED_MEDIA_TYPE' }, (w, id) => {
      const req = baseRequest(route, w, id);
      return { ...req, headers: { ...req.headers, 'content-type': type }, payload: serialise(validBody(route, w)) };
    });
  }
  return cases;
}

const MALFORMED_IDS: [string, string][] = [
  ['"abc"', 'abc'],
  ['23 hex digits', '0'.repeat(23)],
  ['25 hex digits', '0'.repeat(25)],
  ['24 non-hex letters', 'g'.repeat(24)],
  ['12 characters (castable to an ObjectId by Mongoose)', 'abcdefghijkl'],
  ['"$where"', '%24where'],
  ['{"$gt":""} URL-encoded', '%7B%22%24gt%22%3A%22%22%7D'],
  ['"__proto__"', '__proto__'],
  ['"constructor"', 'constructor'],
  ['-1', '-1'],
  ['1e309', '1e309'],
  ['24 hex digits and a NUL', `${'0'.repeat(24)}%00`],
  ['an RTL override and 23 hex digits', `%E2%80%AE${'0'.repeat(23)}`],
  ['24 hex digits and a zero-width space', `${'0'.repeat(24)}%E2%80%8B`],
  ['a lone surrogate (CESU bytes) and 23 hex digits', `%ED%A0%80${'0'.repeat(23)}`],
  ['an invalid percent escape', `%G0${'0'.repeat(22)}`],
  ['24 hex digits and an encoded space', `${'0'.repeat(24)}%20`],
  ['5000 characters', 'a'.repeat(5000)],
];
/**
 * Malformed ids are 400 (API.md Conventions), long ones too; only past the router's parameter
 * length limit (8 KiB, src/app.ts), a URL no client builds, is the answer 414 URI Too Long.
 */
const MAX_PARAM_LENGTH = 8 * 1024;
const expectedForId = (raw: string): Expected =>
  raw.length > MAX_PARAM_LENGTH ? { status: [414], code: 'VALIDATION_FAILED' } : validation;

function idCases(route: InputRoute): BadCase[] {
  if (!hasIdParam(route)) return [];
  return MALFORMED_IDS.map(([label, raw]) => ({
    route,
    label: `:id is ${label}`,
    expected: expectedForId(raw),
    request: (w) => {
      const req = route.body
        ? json(route, w, raw, serialise(validBody(route, w)))
        : baseRequest(route, w, raw);
      return req;
    },
  }));
}

const QUERY_VALUES: Record<QueryKind, [string, string | string[]][]> = {
  page: [
    ['0', '0'],
    ['-1', '-1'],
    ['1.5', '1.5'],
    ['"abc"', 'abc'],
    ['1e309', '1e309'],
    ['99999999999999999999', '99999999999999999999'],
    ['empty', ''],
    ['given twice', ['1', '2']],
    ['"1" and a NUL', `1${NUL}`],
  ],
  limit: [
    ['0', '0'],
    ['101', '101'],
    ['-5', '-5'],
    ['2.5', '2.5'],
    ['Infinity', 'Infinity'],
    ['1e3', '1e3'],
    ['given twice', ['10', '20']],
  ],
  enum: [
    ['an unknown value', 'password'],
    ['"-_id"', '-_id'],
    ['{"$ne":null}', '{"$ne":null}'],
    ['empty', ''],
    ['given twice', ['a', 'b']],
    ['a value with a NUL', `x${NUL}`],
    ['a value with an RTL override', `${RTL_OVERRIDE}x`],
    ['a value with a lone surrogate', `x${LONE_SURROGATE}`],
  ],
  date: [
    ['"yesterday"', 'yesterday'],
    ['month 13', '2031-13-01'],
    ['{"$gt":""}', '{"$gt":""}'],
    ['a time without an offset', '2031-01-01T10:00:00'],
    ['given twice', ['2031-01-01', '2031-02-01']],
  ],
  search: [
    ['5000 characters long', 'x'.repeat(5000)],
    ['given twice', ['a', 'b']],
  ],
};

function queryCases(route: InputRoute): BadCase[] {
  const spec = route.query;
  if (!spec) return [];
  const cases: BadCase[] = [];
  const make = (query: Record<string, string | string[]>) => (w: World, id: string) => ({ ...baseRequest(route, w, id), query });
  for (const [name, kind] of Object.entries(spec.fields)) {
    for (const [label, value] of QUERY_VALUES[kind]) {
      cases.push({ route, label: `?${name} is ${label}`, expected: validation, request: make({ [name]: value }) });
    }
  }
  if (spec.fields.from && spec.fields.to) {
    cases.push({ route, label: '?to is before ?from', expected: validation, request: make({ from: '2031-02-01', to: '2031-01-01' }) });
  }
  // Unknown parameters: refused where the schema is strict, ignored elsewhere; never more.
  // `__proto__` never reaches the schema (the query parser drops it), so it may only be ignored.
  const ignoredOrRefused: Expected = { status: [200, 400] };
  for (const key of ['unknownParam', '__proto__', 'constructor', 'page[$gt]', '$where']) {
    const expected = spec.strict && key !== '__proto__' ? validation : ignoredOrRefused;
    cases.push({ route, label: `unknown parameter ?${key}`, expected, request: make({ [key]: '1' }) });
  }
  return cases;
}

function headerCases(route: InputRoute): BadCase[] {
  if (!route.idempotent) return [];
  const withKey = (key: string | string[] | undefined) => (w: World, id: string) => {
    const req = json(route, w, id, serialise(validBody(route, w)));
    const headers = { ...(req.headers as Record<string, string | string[]>) };
    if (key === undefined) delete headers['idempotency-key'];
    else headers['idempotency-key'] = key;
    return { ...req, headers };
  };
  const required = { status: [400], code: 'IDEMPOTENCY_KEY_REQUIRED' } as const;
  const invalid = { status: [400], code: 'IDEMPOTENCY_KEY_INVALID' } as const;
  const list: [string, string | string[] | undefined, Expected][] = [
    ['missing', undefined, required],
    ['empty', '', required],
    ['only spaces', '   ', required],
    ['an empty structured string ""', '""', required],
    ['256 characters long', 'k'.repeat(256), invalid],
    ['holding a space', 'two words', invalid],
    ['holding a non-ASCII letter', 'caf\u00e9', invalid],
    ['an unterminated structured string', '"abc', invalid],
    ['given twice', ['key-a', 'key-b'], invalid],
  ];
  return list.map(([label, key, expected]) => ({ route, label: `Idempotency-Key header is ${label}`, expected, request: withKey(key) }));
}

/** Every case of every route that takes input. */
export function badInputCases(routes: readonly InputRoute[]): BadCase[] {
  return routes.flatMap((route) => [
    ...(route.method === 'GET' ? [] : bodyCases(route)),
    ...idCases(route),
    ...queryCases(route),
    ...headerCases(route),
  ]);
}
