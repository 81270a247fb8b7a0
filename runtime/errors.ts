/**
 * Domain errors. Each carries what a user needs to fix the input; the edge (CLI, Lambda) decides
 * exit codes and HTTP statuses once, from `code`.
 */
export abstract class StrataError extends Error {
  abstract readonly code: string;
  /** Where it happened, added by callers that know (a build schema kept for inspection, say). */
  context: Record<string, unknown> = {};
  withContext(context: Record<string, unknown>): this {
    this.context = { ...this.context, ...context };
    return this;
  }
  /** Structured detail for `--json` output and run records. */
  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.context };
  }
}

/** What a catalog problem belongs to: commands refuse that dataset or product (and what reads it) alone. */
export interface CatalogSubject {
  readonly kind: 'dataset' | 'product';
  readonly name: string;
}

export interface CatalogIssue {
  /** Path of the catalog file, relative to the catalog directory. */
  readonly file: string;
  /** 1-based line and column in the file, when the problem has a place in it. */
  readonly line?: number;
  readonly column?: number;
  /** Path inside the document, e.g. `columns[2].type`; empty for the whole document. */
  readonly path: string;
  readonly message: string;
  /** Absent when the problem is the whole catalog's (no catalog directory at all). */
  readonly subject?: CatalogSubject;
}

/** `datasets/roads.yaml:4:3: columns[0].type: ...`: the place first, as compilers and editors read it. */
export function formatIssue(issue: CatalogIssue): string {
  const place =
    issue.line === undefined
      ? issue.file
      : `${issue.file}:${issue.line}${issue.column === undefined ? '' : `:${issue.column}`}`;
  return issue.path ? `${place}: ${issue.path}: ${issue.message}` : `${place}: ${issue.message}`;
}

export class CatalogError extends StrataError {
  readonly code = 'CATALOG_INVALID';
  /** `about`, when the error refuses one dataset or product: `dataset "roads" has problems in the catalog`. */
  constructor(
    readonly issues: readonly CatalogIssue[],
    about?: string,
  ) {
    const head = about ?? 'catalog is invalid';
    super(
      issues.length === 1
        ? `${head}: ${formatIssue(issues[0]!)}`
        : `${head} (${issues.length} problems): ${issues.map(formatIssue).join('; ')}`,
    );
    this.name = 'CatalogError';
  }
  override toJSON() {
    return { ...super.toJSON(), issues: this.issues };
  }
}

export interface LoadProblem {
  /** The archived file, as its dataset version key or the user's path. */
  readonly file: string;
  /** The layer read, for formats with layers (GeoPackage, KML, ...; read through GDAL) */
  readonly layer?: string;
  /** 1-based physical line in the file (CSV) */
  readonly line?: number;
  /** 0-based index into `features` (GeoJSON), or of the feature in its layer (formats read through GDAL) */
  readonly feature?: number;
  readonly column?: string;
  readonly reason: string;
}

export class LoadError extends StrataError {
  readonly code: string = 'LOAD_FAILED';
  constructor(readonly problem: LoadProblem) {
    const where = [
      problem.file,
      problem.layer !== undefined ? `layer "${problem.layer}"` : undefined,
      problem.line !== undefined ? `line ${problem.line}` : undefined,
      problem.feature !== undefined ? `feature ${problem.feature}` : undefined,
      problem.column !== undefined ? `column "${problem.column}"` : undefined,
    ]
      .filter(Boolean)
      .join(', ');
    super(`${where}: ${problem.reason}`);
    this.name = 'LoadError';
  }
  override toJSON() {
    return { ...super.toJSON(), ...this.problem };
  }
}

/** A program Strata runs (GDAL's ogr2ogr, say) is not installed; the message says what to install. */
export class MissingToolError extends StrataError {
  readonly code = 'TOOL_MISSING';
  constructor(message: string) {
    super(message);
    this.name = 'MissingToolError';
  }
}

/**
 * A file that broke its dataset's contract: quarantined (kept, not a version) or refused. `problem` is the
 * first problem, where the load would have stopped; the receipt lists every one (runtime/archive/receipt.ts).
 */
export class ContractError extends LoadError {
  override readonly code: string = 'CONTRACT_BROKEN';
  constructor(
    problem: LoadProblem,
    readonly receipt: Record<string, unknown>,
    note = '',
  ) {
    super(problem);
    this.message = `${this.message}${note}`;
    this.name = 'ContractError';
  }
  override toJSON() {
    return { ...super.toJSON(), receipt: this.receipt };
  }
}

export class NotFoundError extends StrataError {
  readonly code = 'NOT_FOUND';
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends StrataError {
  readonly code = 'CONFLICT';
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

export class BuildError extends StrataError {
  readonly code = 'BUILD_FAILED';
  constructor(
    message: string,
    readonly detail: {
      step?: string;
      file?: string;
      position?: number;
      line?: number;
      dbMessage?: string;
    } = {},
  ) {
    super(message);
    this.name = 'BuildError';
  }
  override toJSON() {
    return { ...super.toJSON(), ...this.detail };
  }
}

export interface CheckResult {
  readonly name: string;
  readonly type: string;
  readonly table: string;
  readonly severity: 'error' | 'warn';
  readonly passed: boolean;
  /** Offending rows (or the row count for a row_count check). */
  readonly count: number;
  readonly message: string;
  readonly sample: readonly Record<string, unknown>[];
}

export class CheckFailedError extends StrataError {
  readonly code = 'CHECK_FAILED';
  constructor(readonly results: readonly CheckResult[]) {
    const failed = results.filter((r) => !r.passed && r.severity === 'error');
    super(`${failed.length} check(s) failed: ${failed.map((r) => `${r.name} (${r.message})`).join('; ')}`);
    this.name = 'CheckFailedError';
  }
  override toJSON() {
    return { ...super.toJSON(), checks: this.results };
  }
}

export function errorToJSON(error: unknown): Record<string, unknown> {
  if (error instanceof StrataError) return error.toJSON();
  if (error instanceof Error) return { code: 'INTERNAL', message: error.message };
  return { code: 'INTERNAL', message: String(error) };
}

/** An argument or option a user gave that cannot be used (a bad duration, a run that cannot be retried). */
export class UsageError extends StrataError {
  readonly code = 'USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
