import { describe, expect, it } from 'vitest';
import { closest, didYouMean, editDistance } from '../../runtime/util/suggest.ts';

describe('edit distance and suggestions', () => {
  it('counts insertions, deletions, substitutions and swaps of neighbours as one edit each', () => {
    expect(editDistance('', '')).toBe(0);
    expect(editDistance('abc', '')).toBe(3);
    expect(editDistance('', 'ab')).toBe(2);
    expect(editDistance('required', 'required')).toBe(0);
    expect(editDistance('requird', 'required')).toBe(1); // a letter left out
    expect(editDistance('geojsonn', 'geojson')).toBe(1); // one too many
    expect(editDistance('integar', 'integer')).toBe(1); // one wrong
    expect(editDistance('reuqired', 'required')).toBe(1); // two swapped
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('ca', 'abc')).toBe(3); // optimal string alignment: a swapped pair is not edited again
    expect(editDistance('abc', 'cba')).toBe(editDistance('cba', 'abc'));
  });

  it('suggests the closest candidate only when it is a likely typo', () => {
    const keys = ['name', 'source', 'type', 'description', 'required', 'unique', 'min', 'max', 'values'];
    expect(closest('requird', keys)).toBe('required');
    expect(closest('Unique', keys)).toBe('unique'); // case alone
    expect(closest('geojsn', ['csv', 'geojson', 'shapefile'])).toBe('geojson');
    expect(closest('colour', keys)).toBeUndefined(); // nothing close
    expect(closest('xy', ['min', 'max'])).toBeUndefined(); // a short word may differ by one letter only
    expect(closest('mix', ['min', 'max'])).toBe('min'); // ties go to the first listed
    expect(closest('name', keys)).toBeUndefined(); // the word itself is no suggestion
    expect(closest('anything', [])).toBeUndefined();
  });

  it('words a suggestion to follow a message', () => {
    expect(didYouMean('requird', ['required'])).toBe('; did you mean "required"?');
    expect(didYouMean('zzz', ['required'])).toBe('');
  });
});
