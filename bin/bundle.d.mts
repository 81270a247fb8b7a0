export declare const ROOT: string;
export declare const DIST: string;
export declare const ENTRIES: Record<string, string>;
export declare function ensureBundle(
  entries?: Record<string, string>,
  outdir?: string,
): Promise<Record<string, string>>;
