// A direct evaluator for the most common $group shape (the booking hot path): _id null, a constant
// or a top-level field, with $sum of a top-level field or a number and $count. Anything else is
// left to mingo. Semantics match MongoDB's: $sum ignores non-numeric values (and arrays), groups
// come out in first-seen order like mingo's.
import { isPlainObject, keyOf, type Doc } from '../values.js';

type Acc = { kind: 'sumField'; field: string } | { kind: 'sumConst'; value: number };

interface Plan {
  idField?: string;
  idConst?: unknown;
  accs: [string, Acc][];
}

const topField = (v: unknown): string | undefined =>
  typeof v === 'string' && v.startsWith('$') && !v.startsWith('$$') && !v.includes('.') && v.length > 1 ? v.slice(1) : undefined;

function plan(spec: unknown): Plan | undefined {
  if (!isPlainObject(spec) || !('_id' in spec)) return undefined;
  const p: Plan = { accs: [] };
  const id = spec._id;
  const idField = topField(id);
  if (idField) p.idField = idField;
  else if (id === null || typeof id === 'number' || typeof id === 'boolean' || (typeof id === 'string' && !id.startsWith('$'))) p.idConst = id;
  else return undefined;
  for (const [name, acc] of Object.entries(spec)) {
    if (name === '_id') continue;
    if (name.includes('.') || name.startsWith('$') || !isPlainObject(acc) || Object.keys(acc).length !== 1) return undefined;
    if ('$sum' in acc) {
      const f = topField(acc.$sum);
      if (f) p.accs.push([name, { kind: 'sumField', field: f }]);
      else if (typeof acc.$sum === 'number') p.accs.push([name, { kind: 'sumConst', value: acc.$sum }]);
      else return undefined;
    } else if ('$count' in acc && isPlainObject(acc.$count) && Object.keys(acc.$count).length === 0) {
      p.accs.push([name, { kind: 'sumConst', value: 1 }]);
    } else return undefined;
  }
  return p;
}

/**
 * The stage's output, or undefined when the stage is not of the supported shape. With `countsOnly`
 * only constant sums (counts) qualify: summing fields must not meet Decimal128 / wide Long values.
 */
export function fastGroup(stage: Doc, docs: Doc[], countsOnly = false): Doc[] | undefined {
  const p = plan(stage.$group);
  if (!p || (countsOnly && p.accs.some(([, acc]) => acc.kind === 'sumField'))) return undefined;
  const groups = new Map<string, Doc>();
  for (const d of docs) {
    const idVal = p.idField !== undefined ? (d[p.idField] === undefined ? null : d[p.idField]) : p.idConst;
    const key = p.idField !== undefined ? keyOf(idVal) : '';
    let g = groups.get(key);
    if (!g) {
      g = { _id: idVal };
      for (const [name] of p.accs) g[name] = 0;
      groups.set(key, g);
    }
    for (const [name, acc] of p.accs) {
      if (acc.kind === 'sumConst') g[name] = (g[name] as number) + acc.value;
      else {
        const v = d[acc.field];
        if (typeof v === 'number') g[name] = (g[name] as number) + v;
      }
    }
  }
  return [...groups.values()];
}
