import { describe, expect, it } from 'vitest';
import { Dataset } from '../../runtime/catalog/schema.ts';
import { planStaged, type SqlRule, stagedRules } from '../../runtime/contracts/staged-rules.ts';

// The SQL a contract becomes when a refused file is read again to list every problem: made without a
// database, so what each rule of the catalog turns into is checked here and only running it needs one.

const places = Dataset.parse({
  name: 'places',
  format: 'csv',
  columns: [
    { name: 'id', type: 'integer', required: true, unique: true },
    { name: 'name', source: 'Name' },
    { name: 'population', type: 'bigint', min: 0, max: 50_000_000 },
    { name: 'status', values: ['open', 'closed'] },
    { name: 'lon', type: 'double' },
    { name: 'lat', type: 'double' },
  ],
  geometry: { kind: 'lonlat', lon: 'lon', lat: 'lat' },
});

const parcels = Dataset.parse({
  name: 'parcels',
  format: 'csv',
  columns: [{ name: 'ref' }, { name: 'wkt' }],
  geometry: { kind: 'wkt', column: 'wkt', type: 'Polygon', sourceSrid: 27700, targetSrid: 27700 },
  bbox: [-8, 49, 2, 61],
});

const areas = Dataset.parse({
  name: 'areas',
  format: 'geojson',
  columns: [{ name: 'code', unique: true }],
  geometry: { kind: 'geojson', type: 'MultiPolygon', dimensions: 3 },
  invalidGeometry: 'repair',
});

const summary = (rules: readonly SqlRule[]) => rules.map((r) => `${r.rule} ${r.column ?? ''}`.trim());

describe('the rules a contract becomes over staged rows', () => {
  it('makes each column rule one condition on its value, numbers told apart from whole numbers', () => {
    // Act
    const { rules, invalidAt } = stagedRules(places, {}, true);

    // Assess
    expect(summary(rules)).toEqual([
      'required id',
      'type id',
      'type id',
      'unique id',
      'type population',
      'type population',
      'min population',
      'max population',
      'values status',
      // Columns a required geometry is made from are required too.
      'required lon',
      'type lon',
      'range lon',
      'required lat',
      'type lat',
      'range lat',
    ]);
    // A point made from WGS84 lon/lat cannot be invalid once its range holds: nothing to count.
    expect(invalidAt).toBe(-1);
    const [required, nonNumeric, notWhole, unique] = rules;
    expect(required).toMatchObject({ when: 'c0 IS NULL', what: 'with no id' });
    expect(nonNumeric).toMatchObject({
      when: `NOT ok0 AND NOT pg_input_is_valid(c0, 'numeric')`,
      what: 'with a non-numeric id',
      value: 'c0',
    });
    expect(notWhole!.when).toBe(`NOT ok0 AND pg_input_is_valid(c0, 'numeric')`);
    expect(unique!.when).toBe('c0 IS NOT NULL AND ok0 AND dup0 > 1');
    expect(rules.find((r) => r.rule === 'min')!.when).toBe('ok2 AND (c2)::numeric < 0');
    expect(rules.find((r) => r.rule === 'values')).toMatchObject({
      when: `ok3 AND (c3)::text NOT IN ('open', 'closed')`,
      what: 'with a status not in ["open","closed"]',
    });
    expect(rules.find((r) => r.rule === 'range' && r.column === 'lat')!.when).toBe(
      'ok5 AND NOT ((c5)::float8 BETWEEN -90 AND 90)',
    );
  });

  it('reads values with the function of sql/005 on a server older than PostgreSQL 16', () => {
    // Act
    const { rules } = stagedRules(places, {}, false);

    // Assess
    expect(rules[1]!.when).toBe(`NOT ok0 AND NOT strata.input_is_valid(c0, 'numeric')`);
  });

  it("checks a WKT geometry's text, dimensions, type and bbox in WGS84, and refuses invalid ones", () => {
    // Act
    const { rules, invalidAt } = stagedRules(parcels, {}, true);

    // Assess
    expect(summary(rules)).toEqual([
      'required wkt',
      'geometry wkt',
      'dimensions geometry',
      'geometry_type geometry',
      'bbox geometry',
      'invalid_geometry geometry',
      'invalid_geometry geometry',
    ]);
    expect(rules[1]).toMatchObject({ when: 'c1 IS NOT NULL AND NOT g_ok', value: 'left(c1, 80)' });
    expect(rules[3]!.when).toBe(`g IS NOT NULL AND ST_GeometryType(g) <> 'ST_Polygon'`);
    // The file is in British National Grid: its extent is compared with the bbox in lon/lat.
    expect(rules[4]!.when).toContain('ST_XMin(ST_Transform(g, 4326)) >= -8');
    expect(rules[5]).toMatchObject({
      when: 'g IS NOT NULL AND NOT ST_IsValid(g)',
      detail: 'ST_IsValidReason(g)',
    });
    // The last counts invalid geometries whatever the policy: a fact for the receipt, not a problem.
    expect(invalidAt).toBe(rules.length - 1);
    expect(rules[invalidAt]!.what).toBe('');
  });

  it('leaves out the rules an operator waives, and all but the invalid count when only geometry is asked', () => {
    // Act
    const waived = stagedRules(parcels, { waive: true }, true);
    const geometryOnly = stagedRules(parcels, { geometryOnly: true }, true);

    // Assess
    expect(summary(waived.rules)).toEqual([
      'required wkt',
      'geometry wkt',
      'dimensions geometry',
      'geometry_type geometry',
      'invalid_geometry geometry',
    ]);
    expect(summary(geometryOnly.rules)).toEqual(['invalid_geometry geometry']);
    expect(geometryOnly.invalidAt).toBe(0);
  });

  it('checks GeoJSON features for a required 3D geometry in range, and refuses only what a repair cannot keep', () => {
    // Act
    const { rules } = stagedRules(areas, {}, true);

    // Assess
    expect(summary(rules)).toEqual([
      'unique code',
      'required geometry',
      'dimensions geometry',
      'geometry_type geometry',
      'range geometry',
      'invalid_geometry geometry',
      'invalid_geometry geometry',
    ]);
    expect(rules[1]!.when).toBe('_g IS NULL');
    expect(rules[2]).toMatchObject({ when: 'g IS NOT NULL AND ST_NDims(g) < 3' });
    expect(rules[5]!.when).toBe(
      `CASE WHEN g IS NOT NULL AND NOT ST_IsValid(g) THEN ST_GeometryType(ST_MakeValid(g, 'method=structure')) <> 'ST_MultiPolygon' ELSE false END`,
    );
  });
});

describe('the statements that check staged rows', () => {
  it('counts every rule in one pass over the rows not skipped, numbering repeats of a unique column', () => {
    // Act
    const plan = planStaged(places, {}, 'strata_check_x', true);

    // Assess
    expect(plan.count).toContain('FROM strata_check_x st');
    expect(plan.count).toContain('NOT (_pos = ANY($1::bigint[]))');
    expect(plan.count).toContain(
      'row_number() OVER (PARTITION BY CASE WHEN ok0 THEN (c0)::integer END ORDER BY _pos) AS dup0',
    );
    expect(plan.count).toContain("(c0 IS NULL OR pg_input_is_valid(c0, 'integer')) AS ok0");
    expect(plan.count).toContain('count(c5)::int AS nn5');
    expect(plan.count).toContain(`count(*) FILTER (WHERE ${plan.rules[0]!.when})::int AS n0`);
    expect(plan.count).toContain(`(array_agg(_pos::int ORDER BY _pos) FILTER (WHERE c0 IS NULL))[1:`);
    expect(plan.count).toContain('THEN ST_SetSRID(ST_MakePoint((c4)::float8, (c5)::float8), 4326) END AS g');
    // The unique id names a row in the receipt.
    expect(plan.keyAt).toBe(0);
    expect(plan.details).toContain('c0 AS key');
    expect(plan.details).toContain('_pos = ANY($1::bigint[])');
    expect(plan.details).toContain('(c0)::text AS v1');
  });

  it('shows nothing of the first rows when no rule has a value or detail to show', () => {
    // Prepare: a text column that is only required, and no geometry.
    const notes = Dataset.parse({
      name: 'notes',
      format: 'csv',
      columns: [{ name: 'body', required: true }],
      geometry: { kind: 'none' },
    });

    // Act
    const plan = planStaged(notes, {}, 'strata_check_y', true);

    // Assess
    expect(summary(plan.rules)).toEqual(['required body']);
    expect(plan.details).toBeUndefined();
    expect(plan.count).toContain('true AS ok0');
    expect(plan.count).not.toContain('dup0');
  });
});
