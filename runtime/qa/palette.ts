/**
 * Colours of the report, shared by the page's styles and its map script. From the Okabe-Ito palette, which
 * stays distinct for the common colour-vision deficiencies; every status also has a word beside it.
 */
export const PALETTE = {
  unchanged: '#3a6ea5',
  changed: '#d55e00',
  added: '#008f68',
  removed: '#b8336a',
  land: '#eef1f4',
  border: '#b4bcc6',
} as const;

/** A feature's status on the map, as the page's data writes it. */
export const STATUS_CODE = { unchanged: 0, changed: 1, added: 2 } as const;
