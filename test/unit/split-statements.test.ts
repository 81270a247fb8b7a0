import { describe, expect, it } from 'vitest';
import { splitStatements } from '../../runtime/db/split-statements.ts';

describe('splitStatements', () => {
  it('splits on semicolons outside quotes, identifiers, dollar quotes and comments', () => {
    const sql = `-- a comment; not a split
CREATE TABLE "odd;name" (note text DEFAULT 'it''s; fine');
/* block; comment */ INSERT INTO t VALUES ('a;b');
CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;
DO $$ BEGIN PERFORM 1; END $$;
SELECT 1`;
    expect(splitStatements(sql)).toEqual([
      `-- a comment; not a split\nCREATE TABLE "odd;name" (note text DEFAULT 'it''s; fine')`,
      `/* block; comment */ INSERT INTO t VALUES ('a;b')`,
      'CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql',
      'DO $$ BEGIN PERFORM 1; END $$',
      'SELECT 1',
    ]);
  });

  it('drops empty statements and trailing comments', () => {
    expect(splitStatements(';;  ;\n-- only a comment\n')).toEqual([]);
  });

  it('splits the platform migration into its statements', async () => {
    const { readMigrations } = await import('../../runtime/db/migrate.ts');
    const [first] = await readMigrations();
    const statements = splitStatements(first!.sql);
    expect(statements[0]).toMatch(/CREATE EXTENSION IF NOT EXISTS postgis$/);
    expect(statements.every((s) => !s.endsWith(';'))).toBe(true);
    expect(statements.length).toBeGreaterThan(8);
  });
});
