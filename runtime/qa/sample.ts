/** Long values (geometries, big text) are cut in samples: a sample is for a person to look at. */
export function trimSample(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v && typeof v === 'object' && 'coordinates' in v)
      out[k] = `${String((v as { type?: unknown }).type)} geometry`;
    else out[k] = typeof v === 'string' && v.length > 120 ? `${v.slice(0, 117)}...` : v;
  }
  return out;
}
