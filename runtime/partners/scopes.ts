import { SCOPE_PATTERN } from '../ports/partner-directory.ts';

export type Action = 'read' | 'upload' | 'build';
export type Kind = 'datasets' | 'products';

interface Grant {
  readonly action: Action;
  readonly kind: Kind;
  readonly name: string;
}

function parse(scope: string): Grant | 'operator' | undefined {
  const m = SCOPE_PATTERN.exec(scope);
  if (!m) return undefined;
  if (scope === 'operator') return 'operator';
  const [action, kind, name] = m.slice(1).filter(Boolean) as [Action, Kind, string];
  return { action, kind, name };
}

/** A partner's scopes, parsed once per request. */
export class Scopes {
  private readonly grants: Grant[] = [];
  readonly operator: boolean;

  constructor(scopes: readonly string[]) {
    let operator = false;
    for (const s of scopes) {
      const g = parse(s);
      if (g === 'operator') operator = true;
      else if (g) this.grants.push(g);
    }
    this.operator = operator;
  }

  allows(action: Action, kind: Kind, name: string): boolean {
    return this.grants.some(
      (g) => g.action === action && g.kind === kind && (g.name === '*' || g.name === name),
    );
  }

  /** A dataset is visible to whoever may read it or upload to it; a product to whoever may read or build it. */
  sees(kind: Kind, name: string): boolean {
    return (
      this.allows('read', kind, name) || this.allows(kind === 'datasets' ? 'upload' : 'build', kind, name)
    );
  }
}
