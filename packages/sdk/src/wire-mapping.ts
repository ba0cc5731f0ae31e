/**
 * The one place where the SDK's camelCase names (the getters of the vendor's
 * Java classes) meet the PascalCase wire. The rule is the Java one: the field
 * name is the wire name with its first letter lower-cased, so the vendor's
 * quirks survive (`createMcubeNebulaResourceReslult`, `accessid`, `upgradeTaskId`).
 */

/** What the generated action table says about one action. */
export interface ActionSpec {
  readonly name: string;
  /** lowerCamel client method, e.g. createMcubeNebulaTask */
  readonly method: string;
  /** wire name of the result object, e.g. CreateMcubeNebulaTaskResult */
  readonly resultKey: string;
  readonly mutates: boolean;
  /** request form fields, wire names */
  readonly fields: readonly string[];
  /** wire paths (`A.B`, `A.List[]`) of objects whose keys are data, passed through unrenamed */
  readonly verbatim: readonly string[];
}

type CommonParams = 'appId' | 'workspaceId' | 'tenantId';

/** Wire type -> Java-getter type: first letter of every key lower-cased, recursively. */
export type Camel<T> = T extends readonly (infer U)[]
  ? Camel<U>[]
  : T extends object
    ? { [K in keyof T as K extends string ? Uncapitalize<K> : K]: Camel<T[K]> }
    : T;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** Request type of an action; the common parameters may be left to the client's defaults. */
export type RequestOf<W> = Simplify<Omit<Camel<W>, CommonParams> & Partial<Pick<Camel<W>, CommonParams & keyof Camel<W>>>>;

export type ResponseOf<W> = Camel<W>;

export const uncapitalize = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);

const fieldMaps = new WeakMap<ActionSpec, Map<string, string>>();

function fieldMap(spec: ActionSpec): Map<string, string> {
  let m = fieldMaps.get(spec);
  if (!m) {
    m = new Map();
    for (const wire of spec.fields) {
      m.set(uncapitalize(wire), wire);
      m.set(wire, wire);
    }
    fieldMaps.set(spec, m);
  }
  return m;
}

/** A request value as the form string the vendor SDKs send. */
export function formValue(name: string, v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`${name} must be a finite number`);
      return String(v);
    case 'bigint':
    case 'boolean':
      return String(v);
    case 'object':
      return JSON.stringify(v);
    default:
      throw new TypeError(`${name} cannot be sent as a form value (${typeof v})`);
  }
}

/** camelCase request -> wire form fields; unset values are omitted, unknown names refused. */
export function toWire(spec: ActionSpec, request: object, defaults: Partial<Record<CommonParams, string>>): Record<string, string> {
  const map = fieldMap(spec);
  const out: Record<string, string> = {};
  const given = Object.entries(request).filter(([, v]) => v !== undefined && v !== null);
  const named = new Set(given.map(([k]) => map.get(k) ?? k));
  for (const [k, v] of Object.entries(defaults)) {
    const wire = map.get(k);
    if (wire && v !== undefined && !named.has(wire)) out[wire] = v;
  }
  for (const [k, v] of given) {
    const wire = map.get(k);
    if (!wire) {
      throw new TypeError(`${spec.name} has no parameter "${k}" (known: ${[...spec.fields].map(uncapitalize).join(', ')})`);
    }
    out[wire] = formValue(k, v);
  }
  return out;
}

/** wire response -> camelCase, keeping the keys of the objects at the `verbatim` paths (ActionSpec.verbatim). */
export function fromWire(body: unknown, verbatim: readonly string[] = []): unknown {
  const keep = new Set(verbatim);
  const walk = (v: unknown, path: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, `${path}[]`));
    if (v === null || typeof v !== 'object') return v;
    if (keep.has(path)) return { ...(v as object) };
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[uncapitalize(k)] = walk(x, path ? `${path}.${k}` : k);
    return out;
  };
  return walk(body, '');
}
