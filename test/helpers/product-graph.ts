import type { CatalogSpec } from './catalog.ts';

const csvOnly = (table: string) => [{ table, formats: ['csv'] }];

/**
 * A diamond over three levels: `base` reads a dataset, `left` and `right` read `base`, `top` reads both;
 * `reader` reads `base` too, for the build that sees its upstream publish mid-way.
 */
export const GRAPH: CatalogSpec = {
  datasets: {
    counts: {
      format: 'csv',
      columns: [{ name: 'k' }, { name: 'n', type: 'integer' }],
      geometry: { kind: 'none' },
    },
  },
  products: {
    base: {
      product: { inputs: { counts: 'counts' }, outputs: csvOnly('totals') },
      sql: { '010_totals.sql': 'CREATE TABLE totals AS SELECT k, n FROM counts;' },
    },
    left: {
      product: {
        inputs: { t: { product: 'base', output: 'totals' } },
        outputs: [{ table: 'doubled', name: 'l', formats: ['csv'] }],
      },
      sql: { '010_l.sql': 'CREATE TABLE doubled AS SELECT k, n * 2 AS n FROM t;' },
    },
    right: {
      product: { inputs: { t: { product: 'base', output: 'totals' } }, outputs: csvOnly('r') },
      // Fails on a count of 99 (division by zero): an upstream build that fails.
      sql: { '010_r.sql': 'CREATE TABLE r AS SELECT k, n * 3 + 0 / (n - 99) AS n FROM t;' },
    },
    top: {
      product: {
        inputs: { l: { product: 'left', output: 'l' }, r: { product: 'right', output: 'r' } },
        outputs: csvOnly('both_sides'),
      },
      sql: {
        '010_both.sql': 'CREATE TABLE both_sides AS SELECT l.k, l.n + r.n AS n FROM l JOIN r USING (k);',
      },
    },
    reader: {
      product: { inputs: { t: { product: 'base', output: 'totals' } }, outputs: csvOnly('copied') },
      sql: { '010_copy.sql': 'CREATE TABLE copied AS SELECT k, n FROM t;' },
    },
  },
};
