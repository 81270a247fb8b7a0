// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are source code, templates and all
import { describe, expect, it } from 'vitest';
import { BUCKET_LAYOUT, bucketKeys } from '../../scripts/structure.ts';

const flagged = (text: string, path = 'runtime/somewhere/file.ts') =>
  bucketKeys({ path, text }).map((b) => b.message.split(' spells')[0]);

describe('the bucket-key rule', () => {
  it('finds keys spelled by hand in strings, templates and regular expressions', () => {
    // Prepare
    const text = [
      'const a = `datasets/${name}/`;',
      "const b = 'quarantine/';",
      'const c = `${prefix}manifest.json`;',
      "const d = files.includes('metadata.json');",
      'const e = `partners/${p}/${d}/${id}`;',
      'const f = /^products\\/[^/]+\\/[^/]+\\/manifest\\.json$/;',
      'const g = `${datasetPrefix(x)}received/${sha}.json`;',
    ].join('\n');

    // Act
    const found = flagged(text);

    // Assess
    expect(found).toHaveLength(7);
    expect(
      bucketKeys({ path: 'runtime/x.ts', text: "const k = 'a';\nconst l = `runs/${id}/qa.html`;" })[0]?.file,
    ).toBe('runtime/x.ts:2');
  });

  it('leaves catalog paths, URL paths, messages and comments alone', () => {
    const text = [
      '// datasets/<name>/<version>/metadata.json is written last',
      'const a = `products/${product.name}/product.yaml`;',
      'const b = `products/${entry.product.name}/${step.file}`;',
      'const c = `datasets/${dataset.name}.yaml`;',
      'const d = `/products/${product}/latest`;',
      'const e = `${files.join(", ")} without metadata.json: an ingest that stopped`;',
      "const f = 'latest';",
    ].join('\n');
    expect(flagged(text)).toEqual([]);
  });

  it('holds only runtime/, and not the layout itself', () => {
    const text = 'const a = `datasets/${name}/`;';
    expect(flagged(text, BUCKET_LAYOUT)).toEqual([]);
    expect(flagged(text, 'test/unit/x.test.ts')).toEqual([]);
  });
});
