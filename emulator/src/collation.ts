// Collation: MongoDB's locale-aware string comparison. mongod uses ICU; so does V8's Intl.Collator
// (Node ships full ICU data), so a collation document is parsed and validated like mongod does and
// mapped onto an Intl.Collator. Options Intl cannot express (strength 4/5, caseLevel above strength
// 1, maxVariable "space" with alternate "shifted", a backwards setting other than the locale's own,
// locale variants V8 does not ship, unnormalized strings without normalization: true) are refused
// with NotImplemented instead of approximated.
import { Codes, MongoCommandError } from './errors.js';
import { isPlainObject, type Doc } from './values.js';

/**
 * A parsed non-simple collation. Plain own properties on purpose: mingo copies the `collation`
 * option with Object.assign when it builds its updater options, and the copy must still work.
 */
export interface Collation {
  /** The collation as mongod reports it once resolved (every field present). */
  readonly spec: Doc;
  /** ICU comparison of two strings: negative, 0 or positive. */
  readonly compare: (a: string, b: string) => number;
}

/** The Collation carried by mingo options (undefined: simple binary comparison). */
export function collationOf(options: unknown): Collation | undefined {
  if (options === null || typeof options !== 'object') return undefined;
  const c = (options as { collation?: unknown }).collation;
  return c !== null && typeof c === 'object' && typeof (c as { compare?: unknown }).compare === 'function' ? (c as Collation) : undefined;
}

/** Whether a value is or contains a string (the only values a collation compares differently). */
export function containsString(v: unknown): boolean {
  if (typeof v === 'string') return true;
  if (v === null || typeof v !== 'object') return false;
  if (Array.isArray(v)) return v.some(containsString);
  if ((v as { _bsontype?: string })._bsontype === 'BSONSymbol') return true;
  if (!isPlainObject(v)) return false;
  for (const k in v) if (containsString(v[k])) return true;
  return false;
}

export const refuseUnderCollation = (what: string): MongoCommandError =>
  new MongoCommandError(Codes.NotImplemented, `The emulator does not support ${what} with a non-simple collation`);

// The ICU locale IDs mongod accepts (its "Collation Locales" list); variants as `id@collation=x`.
const LOCALES = new Set(
  ('af am ar as az be bg bn bo bs bs_Cyrl ca chr cs cy da de de_AT dsb dz ee el en en_US en_US_POSIX eo es et fa fa_AF fi fil fo fr fr_CA ga gl gu ' +
    'ha haw he hi hr hsb hu hy id ig is it ja ka kk kl km kn ko kok ky lb lkt ln lo lt lv mk ml mn mr ms mt my nb ne nl nn om or pa pl ps pt ro ru ' +
    'se si sk sl smn sq sr sr_Latn sv sw ta te th to tr ug uk ur vi wae yi yo zh zh_Hant zu').split(' '),
);
/** ICU collation keyword values whose BCP 47 spelling (what Intl takes) differs. */
const VARIANT_BCP47: Record<string, string> = { phonebook: 'phonebk', traditional: 'trad', gb2312han: 'gb2312', dictionary: 'dict' };
/** The ICU version of MongoDB 7.0's bundled ICU, which mongod reports as the collation `version`. */
const MONGOD_ICU_VERSION = '57.1';

const FIELDS = new Set(['locale', 'caseLevel', 'caseFirst', 'strength', 'numericOrdering', 'alternate', 'maxVariable', 'normalization', 'backwards', 'version']);

/** A collation document as mongod prints it in messages: { locale: "xx", strength: 2 }. */
function formatValue(d: Doc): string {
  const parts = Object.entries(d).map(([k, v]) => `${k}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
  return parts.length ? `{ ${parts.join(', ')} }` : '{}';
}

const bsonTypeOf = (v: unknown): string => (typeof v === 'string' ? 'string' : typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'double') : v === null ? 'null' : Array.isArray(v) ? 'array' : 'object');

function field<T>(spec: Doc, name: string, type: 'bool' | 'string' | 'int'): T | undefined {
  const v = spec[name];
  if (v === undefined) return undefined;
  const ok = type === 'bool' ? typeof v === 'boolean' : type === 'string' ? typeof v === 'string' : typeof v === 'number' && Number.isInteger(v);
  if (!ok) throw new MongoCommandError(Codes.TypeMismatch, `BSON field 'collation.${name}' is the wrong type '${bsonTypeOf(v)}', expected type '${type}'`);
  return v as T;
}

function oneOf(name: string, v: string | undefined, allowed: string[]): void {
  if (v !== undefined && !allowed.includes(v)) {
    throw new MongoCommandError(Codes.FailedToParse, `Field '${name}' must be '${allowed.slice(0, -1).join("', '")}'${allowed.length > 2 ? ',' : ''} or '${allowed[allowed.length - 1]}'. Got: ${v}`);
  }
}

/** The BCP 47 tag for a mongod (ICU) locale ID, or a BadValue error when mongod would reject the ID. */
function localeTag(raw: Doc, locale: string): { tag: string; variant?: string } {
  const invalid = (): MongoCommandError => new MongoCommandError(Codes.BadValue, `Field 'locale' is invalid in: ${formatValue(raw)}`);
  if (locale === '') throw new MongoCommandError(Codes.BadValue, `Field 'locale' cannot be the empty string in: ${formatValue(raw)}`);
  const m = /^([A-Za-z_]+)(?:@collation=([a-z0-9]+))?$/.exec(locale);
  if (!m || !LOCALES.has(m[1])) throw invalid();
  const base = m[1] === 'en_US_POSIX' ? 'en-US-u-va-posix' : m[1].replace(/_/g, '-');
  if (!m[2]) return { tag: base };
  const co = VARIANT_BCP47[m[2]] ?? m[2];
  return { tag: `${base}${base.includes('-u-') ? '' : '-u'}-co-${co}`, variant: co };
}

/** NFC or NFD strings are (for practical purposes) FCD, for which ICU without normalization is exact. */
const fcdCache = new Map<string, boolean>();
function isFcd(s: string): boolean {
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x300) {
      plain = false;
      break;
    }
  }
  if (plain) return true;
  let ok = fcdCache.get(s);
  if (ok === undefined) {
    ok = s === s.normalize('NFD') || s === s.normalize('NFC');
    if (fcdCache.size > 10_000) fcdCache.clear();
    fcdCache.set(s, ok);
  }
  return ok;
}

const cache = new Map<string, Collation | undefined>();

/**
 * Parses a command's `collation` argument: undefined when absent or `{locale: "simple"}` (binary
 * comparison), else the Collation. Malformed documents fail as in mongod; valid ones the emulator
 * cannot reproduce exactly fail with NotImplemented (238).
 */
export function parseCollation(raw: unknown): Collation | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isPlainObject(raw)) throw new MongoCommandError(Codes.TypeMismatch, `BSON field 'collation' is the wrong type '${bsonTypeOf(raw)}', expected type 'object'`);
  // Parsed collations are cached by their JSON text (BSON values JSON cannot render skip the cache).
  let key: string | undefined;
  try {
    key = JSON.stringify(raw);
  } catch {
    key = undefined;
  }
  if (key !== undefined && cache.has(key)) return cache.get(key);
  const parsed = parse(raw);
  if (key !== undefined) {
    if (cache.size > 1000) cache.clear();
    cache.set(key, parsed);
  }
  return parsed;
}

function parse(raw: Doc): Collation | undefined {
  for (const k of Object.keys(raw)) {
    if (!FIELDS.has(k)) throw new MongoCommandError(40415, `BSON field 'collation.${k}' is an unknown field.`, { codeName: 'Location40415' });
  }
  const locale = field<string>(raw, 'locale', 'string');
  if (locale === undefined) throw new MongoCommandError(40414, "BSON field 'collation.locale' is missing but a required field", { codeName: 'Location40414' });
  if (locale.includes('\0')) throw new MongoCommandError(Codes.BadValue, `Field 'locale' cannot contain null byte. Collation spec: ${formatValue(raw)}`);
  const caseLevelArg = field<boolean>(raw, 'caseLevel', 'bool');
  const caseFirstArg = field<string>(raw, 'caseFirst', 'string');
  const strengthArg = field<number>(raw, 'strength', 'int');
  const numericOrdering = field<boolean>(raw, 'numericOrdering', 'bool') ?? false;
  const alternateArg = field<string>(raw, 'alternate', 'string');
  const maxVariable = field<string>(raw, 'maxVariable', 'string') ?? 'punct';
  const normalization = field<boolean>(raw, 'normalization', 'bool') ?? false;
  const backwardsArg = field<boolean>(raw, 'backwards', 'bool');
  const version = field<string>(raw, 'version', 'string');
  oneOf('caseFirst', caseFirstArg, ['upper', 'lower', 'off']);
  oneOf('alternate', alternateArg, ['non-ignorable', 'shifted']);
  oneOf('maxVariable', maxVariable, ['punct', 'space']);
  if (strengthArg !== undefined && (strengthArg < 1 || strengthArg > 5)) {
    throw new MongoCommandError(Codes.FailedToParse, `Field 'strength' must be an integer 1 through 5. Got: ${strengthArg}`);
  }
  // Like mongod (7.0), "simple" means binary comparison whatever else the document holds.
  if (locale === 'simple') return undefined;
  const { tag, variant } = localeTag(raw, locale);

  // The locale's own defaults, as mongod fills in unspecified fields from ICU.
  const probe = new Intl.Collator(tag, { usage: 'sort' });
  const resolved = probe.resolvedOptions();
  const wantedBase = tag.split('-u-')[0].toLowerCase();
  if (resolved.locale.split('-u-')[0].toLowerCase() !== wantedBase || (variant !== undefined && resolved.collation !== variant)) {
    throw new MongoCommandError(Codes.NotImplemented, `The emulator cannot apply the collation locale '${locale}': Node.js's ICU does not provide it`);
  }
  const strength = strengthArg ?? 3;
  const caseLevel = caseLevelArg ?? false;
  const caseFirst = caseFirstArg ?? (resolved.caseFirst === 'false' || resolved.caseFirst === undefined ? 'off' : resolved.caseFirst);
  const alternate = alternateArg ?? (resolved.ignorePunctuation ? 'shifted' : 'non-ignorable');
  // French-style backwards secondary ordering: on by default only in some locales (fr_CA).
  // Intl cannot set it, so it is detected from the locale's collator: côte sorts before coté then.
  const localeBackwards = new Intl.Collator(tag, { usage: 'sort', sensitivity: 'accent' }).compare('côte', 'coté') < 0;
  const backwards = backwardsArg ?? localeBackwards;

  // mongod's consistency checks on the resolved specification.
  const resolvedSpec = { locale, caseLevel, caseFirst, strength, numericOrdering, alternate, maxVariable, normalization, backwards, version: MONGOD_ICU_VERSION };
  if (backwards && strength === 1) throw new MongoCommandError(Codes.BadValue, `'backwards' is invalid with 'strength' of 1 in: ${formatValue(raw)}`);
  if (caseFirst !== 'off' && !caseLevel && strength <= 2) {
    throw new MongoCommandError(Codes.BadValue, `'caseFirst' is invalid unless 'caseLevel' is on or 'strength' is greater than 2 in: ${formatValue(raw)}`);
  }

  // What Intl.Collator cannot express.
  if (strength > 3) throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support collation strength ${strength} (only 1, 2 and 3)`);
  if (caseLevel && strength > 1) throw new MongoCommandError(Codes.NotImplemented, 'The emulator does not support collation caseLevel: true with a strength above 1');
  if (alternate === 'shifted' && maxVariable === 'space') throw new MongoCommandError(Codes.NotImplemented, "The emulator does not support collation maxVariable: 'space' with alternate: 'shifted'");
  if (backwards !== localeBackwards) throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support collation backwards: ${backwards} for locale '${locale}' (only the locale's default, ${localeBackwards})`);
  if (version !== undefined && version !== MONGOD_ICU_VERSION) {
    throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support collation version ${version}`);
  }

  const collator = new Intl.Collator(tag, {
    usage: 'sort',
    sensitivity: strength === 1 ? (caseLevel ? 'case' : 'base') : strength === 2 ? 'accent' : 'variant',
    caseFirst: caseFirst === 'off' ? 'false' : (caseFirst as 'upper' | 'lower'),
    numeric: numericOrdering,
    ignorePunctuation: alternate === 'shifted',
  });
  const icu = collator.compare;
  // V8 always turns ICU normalization on; mongod's default (off) gives the same answers for FCD
  // text only, so other strings are refused rather than compared differently.
  const compare = normalization
    ? icu
    : (a: string, b: string): number => {
        if (!isFcd(a) || !isFcd(b)) {
          throw new MongoCommandError(Codes.NotImplemented, 'The emulator compares strings that are neither NFC nor NFD only with collation normalization: true');
        }
        return icu(a, b);
      };
  return { spec: resolvedSpec, compare };
}
