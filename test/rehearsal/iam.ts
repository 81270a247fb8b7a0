// A small IAM policy evaluator: enough of AWS's evaluation logic to decide the calls Strata's code makes
// against the statements its template ships (identity policies, and resource policies' explicit denies).
// Explicit Deny wins, then any Allow, else the implicit deny.
import type { Statement } from './template.ts';

/** One authorisation a call needs: the action, the resource ARN and the request's condition keys. */
export interface Requirement {
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
  /** Why the call needs it when it is implied rather than the call's own action (AWS's documentation). */
  readonly why?: string;
}

export interface Decision {
  readonly allowed: boolean;
  /** The statement that decided it: the Allow that matched, or the explicit Deny. */
  readonly statement?: Statement;
}

const list = (v: string | readonly string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? [...v] : [v as string];

/** IAM's wildcards: `*` any run of characters, `?` one; actions compare case-insensitively. */
function glob(pattern: string, value: string, ignoreCase = false): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, ignoreCase ? 'is' : 's').test(value);
}

function matchesAction(s: Statement, action: string): boolean {
  if (s.Action !== undefined) return list(s.Action).some((a) => glob(a, action, true));
  if (s.NotAction !== undefined) return !list(s.NotAction).some((a) => glob(a, action, true));
  return false;
}

function matchesResource(s: Statement, resource: string): boolean {
  if (s.Resource !== undefined) return list(s.Resource).some((r) => glob(r, resource));
  if (s.NotResource !== undefined) return !list(s.NotResource).some((r) => glob(r, resource));
  return false;
}

/** One condition operator over one key: every key in a block must hold, any value of a key may match. */
function holds(operator: string, wanted: string[], actual: string[] | undefined): boolean {
  const ifExists = operator.endsWith('IfExists');
  const op = ifExists ? operator.slice(0, -'IfExists'.length) : operator;
  if (op === 'Null') return (actual === undefined) === (wanted[0] === 'true');
  if (actual === undefined) return ifExists || op.includes('Not');
  const any = (f: (w: string, a: string) => boolean) => actual.some((a) => wanted.some((w) => f(w, a)));
  switch (op) {
    case 'StringEquals':
    case 'ArnEquals':
      return any((w, a) => w === a);
    case 'StringEqualsIgnoreCase':
      return any((w, a) => w.toLowerCase() === a.toLowerCase());
    case 'StringLike':
    case 'ArnLike':
      return any((w, a) => glob(w, a));
    case 'StringNotEquals':
    case 'ArnNotEquals':
      return !any((w, a) => w === a);
    case 'StringNotLike':
    case 'ArnNotLike':
      return !any((w, a) => glob(w, a));
    case 'Bool':
      return any((w, a) => w.toLowerCase() === a.toLowerCase());
    default:
      throw new Error(`condition operator ${operator} is not evaluated by the rehearsal; add it to iam.ts`);
  }
}

function matchesConditions(s: Statement, context: Requirement['context'] = {}): boolean {
  for (const [operator, block] of Object.entries(s.Condition ?? {}))
    for (const [key, wanted] of Object.entries(block)) {
      const actual = Object.entries(context).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
      if (!holds(operator, list(wanted), actual === undefined ? undefined : list(actual))) return false;
    }
  return true;
}

const applies = (s: Statement, r: Requirement) =>
  matchesAction(s, r.action) && matchesResource(s, r.resource) && matchesConditions(s, r.context);

/** AWS's order: an explicit Deny anywhere, else an Allow in the identity policies, else denied. */
export function evaluate(
  identity: readonly Statement[],
  denies: readonly Statement[],
  r: Requirement,
): Decision {
  const deny = [...identity, ...denies].find((s) => s.Effect === 'Deny' && applies(s, r));
  if (deny) return { allowed: false, statement: deny };
  const allow = identity.find((s) => s.Effect === 'Allow' && applies(s, r));
  return allow ? { allowed: true, statement: allow } : { allowed: false };
}

/** The statement a denied requirement is missing, written as a policy statement an author can paste. */
export function missingStatement(r: Requirement): string {
  const condition = Object.keys(r.context ?? {}).length
    ? `, "Condition": ${JSON.stringify(
        Object.fromEntries(
          Object.entries(r.context ?? {})
            .filter(([k]) => !k.startsWith('aws:'))
            .map(([k, v]) => [k.startsWith('ecs:cluster') ? 'ArnEquals' : 'StringEquals', { [k]: v }]),
        ),
      )}`
    : '';
  return `{ "Effect": "Allow", "Action": "${r.action}", "Resource": "${r.resource}"${condition} }`;
}
